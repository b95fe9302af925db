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
};

const fromRow = (r: Row): Account => ({
  id: r.id,
  sub: r.sub,
  address: r.address,
  walletType: r.wallet_type,
  firstLoginAt: r.first_login_at,
  lastLoginAt: r.last_login_at,
  loginCount: r.login_count,
});

const UPSERT = `INSERT INTO accounts (sub, address, wallet_type, first_login_at, last_login_at, login_count)
  VALUES ($1, $2, $3, $4, $4, 1)
  ON CONFLICT (sub) DO UPDATE SET last_login_at = excluded.last_login_at, login_count = accounts.login_count + 1
  RETURNING *`;
const EVENT_COLUMNS = ['occurred_at', 'outcome', 'reason', 'interaction_uid', 'client_id', 'address', 'chain_id', 'sub', 'ip', 'user_agent'] as const;
// Data-modifying CTEs run together in one statement: the account and its login event commit as one.
const UPSERT_WITH_EVENT = `WITH account AS (${UPSERT}),
  event AS (INSERT INTO login_events (${EVENT_COLUMNS.join(', ')}) VALUES (${EVENT_COLUMNS.map((_, i) => `$${i + 5}`).join(', ')}))
  SELECT * FROM account`;

export function createAccountStore(db: Db, sql: Sql): AccountStore {
  return {
    async recordLogin({ sub, address, walletType, at }, event) {
      const account = [sub, address, walletType, at];
      const eventRow = event && loginEventRow(event);
      const { rows } = eventRow
        ? await sql.query<Row>(UPSERT_WITH_EVENT, [...account, ...EVENT_COLUMNS.map((c) => eventRow[c])], 'account_login_with_event')
        : await sql.query<Row>(UPSERT, account, 'account_login');
      return fromRow(rows[0]!);
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
  };
}
