// Accounts: created on a wallet's first login and kept (first and last login, login count).
import type { Db } from './knex.ts';
import { loginEventRow } from './login-events.ts';
import type { Sql } from './sql.ts';
import type { Account, AccountStore } from '../oidc/ports.ts';
import type { WalletType } from '../siwe/ports.ts';

type Row = {
  id: string;
  sub: string;
  address: string;
  wallet_type: WalletType;
  first_login_at: Date;
  last_login_at: Date;
  login_count: number;
  disabled_at: Date | null;
  disabled_reason: string | null;
};

const fromRow = (r: Row): Account => ({
  id: r.id,
  sub: r.sub,
  address: r.address,
  walletType: r.wallet_type,
  firstLoginAt: r.first_login_at,
  lastLoginAt: r.last_login_at,
  loginCount: r.login_count,
  ...(r.disabled_at ? { disabledAt: r.disabled_at, disabledReason: r.disabled_reason ?? undefined } : {}),
});

const UPSERT = `INSERT INTO accounts (sub, address, wallet_type, first_login_at, last_login_at, login_count)
  VALUES ($1, $2, $3, $4, $4, 1)
  ON CONFLICT (sub) DO UPDATE SET last_login_at = excluded.last_login_at, login_count = accounts.login_count + 1
  WHERE accounts.disabled_at IS NULL AND accounts.wallet_type = excluded.wallet_type
  RETURNING *`;
const EVENT_COLUMNS = ['occurred_at', 'outcome', 'reason', 'interaction_uid', 'client_id', 'address', 'chain_id', 'sub', 'ip', 'user_agent', 'handoff'] as const;
const EVENT_TYPES = ['timestamptz', 'text', 'text', 'text', 'text', 'text', 'bigint', 'text', 'text', 'text', 'boolean'];
// Data-modifying CTEs run together in one statement: the account and its login event commit as one. The
// event is written only with the account (FROM account): a disabled account's refusal writes its own.
const UPSERT_WITH_EVENT = `WITH account AS (${UPSERT}),
  event AS (INSERT INTO login_events (${EVENT_COLUMNS.join(', ')})
    SELECT ${EVENT_COLUMNS.map((_, i) => `$${i + 5}::${EVENT_TYPES[i]}`).join(', ')} FROM account)
  SELECT * FROM account`;

// Only accounts whose state changes: disabling a disabled account keeps its first time and reason.
const SET_DISABLED = `UPDATE accounts SET disabled_at = $2, disabled_reason = $3
  WHERE sub = ANY($1::text[]) AND (disabled_at IS NULL) = $4 RETURNING sub`;

export function createAccountStore(db: Db, sql: Sql): AccountStore {
  return {
    async recordLogin({ sub, address, walletType, at }, event) {
      const account = [sub, address, walletType, at];
      const eventRow = event && loginEventRow(event);
      const { rows } = eventRow
        ? await sql.query<Row>(UPSERT_WITH_EVENT, [...account, ...EVENT_COLUMNS.map((c) => eventRow[c])], 'account_login_with_event')
        : await sql.query<Row>(UPSERT, account, 'account_login');
      return rows[0] && fromRow(rows[0]);
    },
    async find(sub) {
      const row = (await db('accounts').where({ sub }).first()) as Row | undefined;
      return row && fromRow(row);
    },
    async findByAddress(address) {
      const rows = (await db('accounts').whereRaw('lower(address) = ?', [address.toLowerCase()]).orderBy('last_login_at', 'desc')) as Row[];
      return rows.map(fromRow);
    },
    async list(limit) {
      const rows = (await db('accounts')
        .orderBy([{ column: 'last_login_at', order: 'desc' }, { column: 'sub' }])
        .limit(limit)) as Row[];
      return rows.map(fromRow);
    },
    async setDisabled(subs, disabled) {
      // Through `sql`: inside stores.atomic it joins the transaction that also ends the account's sessions.
      const { rows } = await sql.query<{ sub: string }>(SET_DISABLED, [subs, disabled?.at ?? null, disabled?.reason ?? null, disabled !== null]);
      return rows.map((r) => r.sub);
    },
  };
}
