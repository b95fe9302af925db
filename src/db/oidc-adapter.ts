// oidc-provider's storage adapter over Postgres/PGlite: one table, payloads as JSONB.
// Contract: the library's memory adapter. Reads do not filter by expiry (the library checks
// `exp` itself, sometimes with ignoreExpiration); consumed rows stay for reuse detection;
// expired rows are removed by the sweep, after a grace period.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from './knex.ts';

const TABLE = 'oidc_payloads';

type Row = { payload: AdapterPayload; consumed_at: Date | null };

function toPayload(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
}

export function createPayloadAdapter(db: Db, model: string): Adapter {
  const rows = () => db(TABLE).where({ model });
  const findWhere = async (where: Record<string, string>) => toPayload(await rows().where(where).first('payload', 'consumed_at'));

  return {
    async upsert(id, payload, expiresIn) {
      const row = {
        model,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null,
        // An upsert replaces the whole record, as the memory adapter does.
        consumed_at: null,
      };
      await db(TABLE).insert(row).onConflict(['model', 'id']).merge();
    },
    find: (id) => findWhere({ id }),
    findByUid: (uid) => findWhere({ uid }),
    findByUserCode: (userCode) => findWhere({ user_code: userCode }),
    async consume(id) {
      await rows().where({ id }).update({ consumed_at: new Date() });
    },
    async destroy(id) {
      await rows().where({ id }).delete();
    },
    async revokeByGrantId(grantId) {
      await rows().where({ grant_id: grantId }).delete();
    },
  };
}
