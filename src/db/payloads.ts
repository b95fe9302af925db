// oidc-provider's models over Postgres/PGlite: one table, payloads stored whole as JSON. The adapter
// that oidc-provider calls is oidc/adapter.ts; this is its SQL. Reads do not filter by expiry (the
// library checks `exp` itself, sometimes with ignoreExpiration); consumed rows stay for reuse
// detection; expired rows are removed by the sweep, after a grace period.
// Every login runs about twenty of these statements: fixed SQL on a pooled connection (sql.ts).
import type { AdapterPayload } from 'oidc-provider';
import type { PayloadStore, StoredPayload } from '../oidc/ports.ts';
import type { Sql } from './sql.ts';

// account_id: the account a session, grant or token belongs to, so disabling it ends them all (revokeAccount).
const UPSERT = `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at, account_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)
  ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
    user_code = excluded.user_code, expires_at = excluded.expires_at, consumed_at = NULL, account_id = excluded.account_id`;
// The same, leaving a stored payload that holds any of $9's keys as it was: the row lock orders concurrent writers.
const UPSERT_UNLESS = `${UPSERT} WHERE NOT (oidc_payloads.payload::jsonb ?| $9::text[])`;
const SELECT = 'SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = $1 AND';
const FIND = `${SELECT} id = $2`;
const FIND_BY_UID = `${SELECT} uid = $2 LIMIT 1`;
const FIND_BY_USER_CODE = `${SELECT} user_code = $2 LIMIT 1`;
// Conditional: of concurrent consumers, row locking lets exactly one see the row unconsumed.
const CONSUME = 'UPDATE oidc_payloads SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL';
const DESTROY = 'DELETE FROM oidc_payloads WHERE model = $1 AND id = $2';
const REVOKE_BY_GRANT_ID = 'DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2';
const REVOKE_GRANT = "DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)";
const REVOKE_ACCOUNT = 'DELETE FROM oidc_payloads WHERE account_id = $1';

type Row = { id: string; payload: AdapterPayload; consumed_at: Date | null };

export function createPayloadStore(sql: Sql): PayloadStore {
  const first = async (text: string, model: string, value: string, name: string): Promise<StoredPayload | undefined> => {
    const row = (await sql.query<Row>(text, [model, value], name)).rows[0];
    return row && { id: row.id, payload: row.payload, consumedAt: row.consumed_at ?? undefined };
  };
  return {
    async upsert(model, id, payload, expiresAt, unlessStoredHas) {
      const accountId = typeof payload.accountId === 'string' ? payload.accountId : null;
      const values = [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt ?? null, accountId];
      if (!unlessStoredHas) return (await sql.query(UPSERT, values, 'oidc_upsert')).rowCount === 1;
      return (await sql.query(UPSERT_UNLESS, [...values, unlessStoredHas], 'oidc_upsert_unless')).rowCount === 1;
    },
    find: (model, id) => first(FIND, model, id, 'oidc_find'),
    findByUid: (model, uid) => first(FIND_BY_UID, model, uid, 'oidc_find_by_uid'),
    findByUserCode: (model, userCode) => first(FIND_BY_USER_CODE, model, userCode, 'oidc_find_by_user_code'),
    async consume(model, id, at) {
      return (await sql.query(CONSUME, [model, id, at], 'oidc_consume')).rowCount === 1;
    },
    async destroy(model, id) {
      await sql.query(DESTROY, [model, id], 'oidc_destroy');
    },
    async revokeByGrantId(model, grantId) {
      await sql.query(REVOKE_BY_GRANT_ID, [model, grantId], 'oidc_revoke_by_grant_id');
    },
    async revokeGrant(grantId) {
      await sql.query(REVOKE_GRANT, [grantId], 'oidc_revoke_grant');
    },
    async revokeAccount(accountId) {
      return (await sql.query(REVOKE_ACCOUNT, [accountId], 'oidc_revoke_account')).rowCount;
    },
  };
}
