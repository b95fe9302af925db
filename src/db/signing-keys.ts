// RS256 signing keys: generated on first start, sealed in the database, published newest first.
import type { JWK } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { SigningKeyStore } from '../oidc/ports.ts';
import type { Db } from './knex.ts';
import type { SecretBox } from './secret-box.ts';
import { generateRsaJwk } from '../oidc/keys.ts';

export function createSigningKeys(db: Db, box: SecretBox, clock: Clock): SigningKeyStore {
  const insertKey = async (q: Db): Promise<string> => {
    const jwk = generateRsaJwk();
    await q('signing_keys').insert({ kid: jwk.kid, alg: jwk.alg, private_jwk_sealed: box.seal(JSON.stringify(jwk)), created_at: clock() });
    return jwk.kid as string;
  };
  return {
    async list() {
      const rows = await db('signing_keys').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'kid' }]);
      return rows.map((r: { private_jwk_sealed: string }) => JSON.parse(box.open(r.private_jwk_sealed)) as JWK);
    },
    async listCreated() {
      const rows: Array<{ kid: string; created_at: Date }> = await db('signing_keys')
        .select('kid', 'created_at')
        .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'kid' }]);
      return rows.map((r) => ({ kid: r.kid, createdAt: new Date(r.created_at) }));
    },
    rotate: () => insertKey(db),
    async ensure() {
      // An advisory lock keeps two instances starting at once from generating two keys.
      await db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['wallet-oidc:signing-keys']);
        const { count } = (await trx('signing_keys').count({ count: '*' }).first()) as { count: string | number };
        if (Number(count) === 0) await insertKey(trx);
      });
    },
  };
}
