// oidc-provider's storage adapter over Postgres/PGlite: one table, payloads stored whole as JSON.
// Contract: the library's memory adapter. Reads do not filter by expiry (the library checks
// `exp` itself, sometimes with ignoreExpiration); consumed rows stay for reuse detection;
// expired rows are removed by the sweep, after a grace period.
// Every login runs about twenty of these statements, so they are fixed SQL through knex.raw rather
// than rebuilt by the query builder each time.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from './knex.ts';

const UPSERT = `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
    user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL`;
const SELECT = 'SELECT payload, consumed_at FROM oidc_payloads WHERE model = ? AND';
const FIND = `${SELECT} id = ?`;
const FIND_BY_UID = `${SELECT} uid = ? LIMIT 1`;
const FIND_BY_USER_CODE = `${SELECT} user_code = ? LIMIT 1`;
const CONSUME = 'UPDATE oidc_payloads SET consumed_at = ? WHERE model = ? AND id = ?';
const DESTROY = 'DELETE FROM oidc_payloads WHERE model = ? AND id = ?';
const REVOKE_BY_GRANT_ID = 'DELETE FROM oidc_payloads WHERE model = ? AND grant_id = ?';

type Row = { payload: AdapterPayload; consumed_at: Date | null };

function toPayload(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
}

export function createPayloadAdapter(db: Db, model: string): Adapter {
  const first = async (sql: string, value: string) => toPayload(((await db.raw(sql, [model, value])) as { rows: Row[] }).rows[0]);

  return {
    async upsert(id, payload, expiresIn) {
      await db.raw(UPSERT, [
        model,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.uid ?? null,
        payload.userCode ?? null,
        typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null,
      ]);
    },
    find: (id) => first(FIND, id),
    findByUid: (uid) => first(FIND_BY_UID, uid),
    findByUserCode: (userCode) => first(FIND_BY_USER_CODE, userCode),
    async consume(id) {
      await db.raw(CONSUME, [new Date(), model, id]);
    },
    async destroy(id) {
      await db.raw(DESTROY, [model, id]);
    },
    async revokeByGrantId(grantId) {
      await db.raw(REVOKE_BY_GRANT_ID, [model, grantId]);
    },
  };
}
