// The migration 20261203000100_hash_token_ids on a database written the old way (ids and jti in clear):
// afterwards no row holds a token, and oidc-provider finds every session and token by the value the
// browser or client presents, so nobody is signed out by the upgrade. On PGlite and Postgres.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { loadConfig } from '../../src/config/index.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createDb, migrate, type Db } from '../../src/db/knex.ts';
import { createLogger } from '../../src/logger.ts';
import { HASHED_MODELS } from '../../src/oidc/token-ids.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';

// The migration just before the one under test.
const BEFORE = '20261203000000_rate_limits';

/** An id as oidc-provider makes one: 43 characters of nanoid's alphabet. */
const newId = () => randomBytes(32).toString('base64url').slice(0, 43);

describeEachDatabase('the migration that hashes token ids', (backend) => {
  let database: TestDatabase;
  let db: Db;
  let app: AppContext | undefined;
  const now = Math.floor(Date.now() / 1000);
  const ids = Object.fromEntries([...HASHED_MODELS].map((model) => [model, newId()]));
  const grantId = newId();
  const interactionId = newId();
  const sessionUid = newId();

  /** Rows as the previous version wrote them: the id in clear, and in the payload's jti. */
  const oldRow = (model: string, id: string, payload: AdapterPayload) => ({
    model,
    id,
    payload: JSON.stringify({ iat: now, exp: now + 3600, jti: id, kind: model, ...payload }),
    grant_id: payload.grantId ?? null,
    uid: payload.uid ?? null,
    expires_at: new Date((now + 3600) * 1000),
  });

  before(async () => {
    database = await backend.create({ empty: true });
    db = createDb(database.database);
    await migrate(db, { to: BEFORE });
    const token = { clientId: 'rp', accountId: '0x0000000000000000000000000000000000000001', grantId, scope: 'openid', sessionUid };
    await db('oidc_payloads').insert([
      ...[...HASHED_MODELS].filter((m) => m !== 'Session').map((model) => oldRow(model, ids[model]!, token)),
      // A request parameter with a NUL, as any authorization request can store: the migration must keep it.
      oldRow('AuthorizationCode', `${ids.AuthorizationCode}-nul`, { ...token, nonce: 'a\u0000b' }),
      oldRow('Session', ids.Session!, { uid: sessionUid, accountId: token.accountId, loginTs: now, authorizations: { rp: { sid: 's', grantId } } }),
      oldRow('Grant', grantId, { accountId: token.accountId, clientId: 'rp' }),
      oldRow('Interaction', interactionId, { session: { accountId: token.accountId, uid: sessionUid, cookie: ids.Session }, params: { state: 'x' } }),
    ]);
    assert.deepEqual(await migrate(db, { to: '20261203000100_hash_token_ids' }), ['20261203000100_hash_token_ids']);
  });
  after(async () => {
    await app?.close();
    await db?.destroy();
    await database?.drop();
  });

  it('leaves no token in any row, and keeps the rows that are not secrets as they were', async () => {
    const rows = (await db.raw('SELECT t::text AS row FROM oidc_payloads t')).rows as { row: string }[];
    assert.equal(rows.length, HASHED_MODELS.size + 3);
    for (const [model, id] of Object.entries(ids)) {
      assert.deepEqual(
        rows.filter(({ row }) => row.includes(id)),
        [],
        `${model}'s id is still in clear`,
      );
    }
    assert.ok(
      rows.some(({ row }) => row.includes(grantId) && row.includes('"Grant"')),
      'the grant keeps its id',
    );
  });

  it('lets oidc-provider find every session and token by the value presented, with a jti equal to it', async () => {
    await db.destroy();
    const config = loadConfig({ ...database.env, ISSUER: 'http://127.0.0.1:1', SWEEP_INTERVAL: '0' });
    app = await createContext(config, { logger: createLogger('silent') });
    const { provider } = app;
    const session = await provider.Session.find(ids.Session!);
    assert.equal(session?.jti, ids.Session);
    assert.equal(session?.accountId, '0x0000000000000000000000000000000000000001');
    assert.equal((await provider.Session.findByUid(sessionUid))?.accountId, session?.accountId);
    const finders = {
      AccessToken: (id: string) => provider.AccessToken.find(id),
      AuthorizationCode: (id: string) => provider.AuthorizationCode.find(id),
      RefreshToken: (id: string) => provider.RefreshToken.find(id),
      ClientCredentials: (id: string) => provider.ClientCredentials.find(id),
    };
    for (const [model, find] of Object.entries(finders)) {
      const found = await find(ids[model]!);
      assert.equal(found?.jti, ids[model], model);
    }
    const withNul = await provider.AuthorizationCode.find(`${ids.AuthorizationCode}-nul`);
    assert.equal(withNul?.nonce, 'a\u0000b');
    const interaction = await provider.Interaction.find(interactionId);
    assert.deepEqual(interaction?.session, { accountId: session?.accountId, uid: sessionUid }, 'the cookie copy is gone, the rest kept');
  });
});
