// RS256 signing keys: generated on first start, sealed in the database, published newest first.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { JWK } from 'oidc-provider';
import type { Db } from './knex.ts';
import type { SecretBox } from './secret-box.ts';

export interface SigningKeys {
  /** Private JWKs, newest first: oidc-provider signs with the first of an algorithm and publishes all. */
  list(): Promise<JWK[]>;
  /** Adds a new key that becomes the active one; older keys stay published so their tokens still verify. */
  rotate(): Promise<string>;
  /** Generates a key when none exists yet. */
  ensure(): Promise<void>;
}

function generateRsaJwk(): JWK {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

export function createSigningKeys(db: Db, box: SecretBox): SigningKeys {
  const insertKey = async (q: Db): Promise<string> => {
    const jwk = generateRsaJwk();
    await q('signing_keys').insert({ kid: jwk.kid, alg: jwk.alg, private_jwk_sealed: box.seal(JSON.stringify(jwk)), created_at: new Date() });
    return jwk.kid as string;
  };
  return {
    async list() {
      const rows = await db('signing_keys').orderBy([{ column: 'created_at', order: 'desc' }, { column: 'kid' }]);
      return rows.map((r: { private_jwk_sealed: string }) => JSON.parse(box.open(r.private_jwk_sealed)) as JWK);
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
