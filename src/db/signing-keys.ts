// Signing keys: sealed in the database with the times that stage them (oidc/key-states.ts reads the states).
import type { JWK } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { SigningKeyStore, StoredSigningKey } from '../oidc/ports.ts';
import type { Db } from './knex.ts';
import type { SecretBox } from './secret-box.ts';
import { generateSigningJwk, SIGNING_ALGS } from '../oidc/keys.ts';

interface Row {
  kid: string;
  alg: string;
  private_jwk_sealed: string;
  created_at: Date;
  activates_at: Date;
  retired_at: Date | null;
}

/** Serializes what must see every key before adding some: ensure() at start-up and add() (keys rotate). */
const LOCK = 'wallet-oidc:signing-keys';

export function createSigningKeys(db: Db, box: SecretBox, clock: Clock): SigningKeyStore {
  const insert = (q: Db, jwks: JWK[], activatesAt: Date) =>
    q('signing_keys').insert(
      jwks.map((jwk) => ({
        kid: jwk.kid,
        alg: jwk.alg,
        private_jwk_sealed: box.seal(JSON.stringify(jwk)),
        created_at: clock(),
        activates_at: activatesAt,
      })),
    );
  return {
    async list() {
      const rows: Row[] = await db('signing_keys').orderBy([{ column: 'created_at' }, { column: 'kid' }]);
      return rows.map((r): StoredSigningKey => ({
        kid: r.kid,
        alg: r.alg,
        jwk: JSON.parse(box.open(r.private_jwk_sealed)) as JWK,
        createdAt: new Date(r.created_at),
        activatesAt: new Date(r.activates_at),
        retiredAt: r.retired_at ? new Date(r.retired_at) : undefined,
      }));
    },
    async add(jwks, activatesAt, now) {
      // The lock ensure() takes: a concurrent rotation waits, then sees the keys this one added as pending.
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [LOCK]);
        if (await trx('signing_keys').whereNull('retired_at').where('activates_at', '>', now).first('kid')) return false;
        await insert(trx, jwks, activatesAt);
        return true;
      });
    },
    async setActivation(kid, at) {
      return (await db('signing_keys').where({ kid }).whereNull('retired_at').update({ activates_at: at })) > 0;
    },
    async retire(kid, at, activatesAt) {
      // Compared to the millisecond: a time a migration wrote may carry microseconds that a JavaScript Date drops.
      return (
        (await db('signing_keys')
          .where({ kid })
          .whereNull('retired_at')
          .whereRaw('abs(extract(epoch from activates_at) * 1000 - ?) < 1', [activatesAt.getTime()])
          .update({ retired_at: at })) > 0
      );
    },
    async ensure() {
      // An advisory lock keeps two instances starting at once from generating two keys of an algorithm.
      await db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [LOCK]);
        const rows: Array<{ alg: string }> = await trx('signing_keys').distinct('alg').whereNull('retired_at');
        const have = new Set(rows.map((r) => r.alg));
        const missing = SIGNING_ALGS.filter((alg) => !have.has(alg)).map(generateSigningJwk);
        if (missing.length) await insert(trx, missing, clock());
      });
    },
  };
}
