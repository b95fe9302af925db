// oidc-provider's storage adapter over Postgres/PGlite: one table, payloads stored whole as JSON.
// Contract: the library's memory adapter. Reads do not filter by expiry (the library checks
// `exp` itself, sometimes with ignoreExpiration); consumed rows stay for reuse detection;
// expired rows are removed by the sweep, after a grace period.
// Every login runs about twenty of these statements: fixed SQL on a pooled connection (sql.ts).
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from './knex.ts';
import { createSql } from './sql.ts';

const UPSERT = `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
    user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL`;
const SELECT = 'SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND';
const FIND = `${SELECT} id = $2`;
const FIND_BY_UID = `${SELECT} uid = $2 LIMIT 1`;
const FIND_BY_USER_CODE = `${SELECT} user_code = $2 LIMIT 1`;
const CONSUME = 'UPDATE oidc_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2';
const DESTROY = 'DELETE FROM oidc_payloads WHERE model = $1 AND id = $2';
const REVOKE_BY_GRANT_ID = 'DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2';

type Row = { payload: AdapterPayload; consumed_at: Date | null };

function toPayload(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
}

export function createPayloadAdapter(db: Db, model: string): Adapter {
  const sql = createSql(db);
  const first = async (text: string, value: string, name: string) => toPayload((await sql.query<Row>(text, [model, value], name)).rows[0]);

  return {
    async upsert(id, payload, expiresIn) {
      await sql.query(
        UPSERT,
        [
          model,
          id,
          JSON.stringify(payload),
          payload.grantId ?? null,
          payload.uid ?? null,
          payload.userCode ?? null,
          typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null,
        ],
        'oidc_upsert',
      );
    },
    find: (id) => first(FIND, id, 'oidc_find'),
    findByUid: (uid) => first(FIND_BY_UID, uid, 'oidc_find_by_uid'),
    findByUserCode: (userCode) => first(FIND_BY_USER_CODE, userCode, 'oidc_find_by_user_code'),
    async consume(id) {
      await sql.query(CONSUME, [model, id, new Date()], 'oidc_consume');
    },
    async destroy(id) {
      await sql.query(DESTROY, [model, id], 'oidc_destroy');
    },
    async revokeByGrantId(grantId) {
      await sql.query(REVOKE_BY_GRANT_ID, [model, grantId], 'oidc_revoke_by_grant_id');
    },
  };
}
