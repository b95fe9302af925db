// The migration 20261203000300_stage_signing_keys on a database with a key of the previous version (RS256 only,
// no activation time): after the upgrade that key still signs RS256 tokens, and ES256 and EdDSA keys join it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createDb, migrate } from '../../src/db/knex.ts';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { createLogger } from '../../src/logger.ts';
import { generateSigningJwk } from '../../src/oidc/keys.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';

// The migration just before the one under test.
const BEFORE = '20261203000100_hash_token_ids';

describeEachDatabase('the migration that stages signing keys', (backend) => {
  let database: TestDatabase;
  let app: AppContext | undefined;
  const encryptionKey = randomBytes(32).toString('hex');
  const old = generateSigningJwk('RS256');
  const createdAt = new Date(Date.now() - 90 * 86_400_000);

  before(async () => {
    database = await backend.create({ empty: true });
    const db = createDb(database.database);
    try {
      await migrate(db, { to: BEFORE });
      // A row as the previous version wrote it.
      const sealed = createSecretBox(Buffer.from(encryptionKey, 'hex')).seal(JSON.stringify(old));
      await db('signing_keys').insert({ kid: old.kid, alg: 'RS256', private_jwk_sealed: sealed, created_at: createdAt });
    } finally {
      await db.destroy();
    }
    const config = loadConfig({ ...database.env, ISSUER: 'http://127.0.0.1:1', SWEEP_INTERVAL: '0', ENCRYPTION_KEY: encryptionKey });
    app = await createContext(config, { logger: createLogger('silent') });
  });
  after(async () => {
    await app?.close();
    await database?.drop();
  });

  it('keeps the existing key active from its creation, and adds an active ES256 and EdDSA key', () => {
    const { keys, jwks } = app!.keys.current();
    assert.deepEqual(
      keys.map((k) => `${k.alg} ${k.state}`),
      ['RS256 active', 'ES256 active', 'EdDSA active'],
    );
    const rsa = keys.find((k) => k.alg === 'RS256')!;
    assert.equal(rsa.kid, old.kid);
    assert.equal(rsa.activatesAt.getTime(), createdAt.getTime());
    assert.equal(jwks[0]!.kid, old.kid, 'the old key signs RS256 tokens first');
    assert.equal(jwks[0]!.key_ops, undefined, 'and may sign');
  });
});
