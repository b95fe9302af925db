// Accounts: created on a wallet's first login and kept (first and last login, login count).
import type { Db } from './knex.ts';
import { loginEventRow, type LoginEvent } from './login-events.ts';

export type WalletType = 'eoa';

export interface Account {
  id: string;
  sub: string;
  address: string;
  walletType: WalletType;
  firstLoginAt: Date;
  lastLoginAt: Date;
  loginCount: number;
}

export interface AccountStore {
  /**
   * Creates the account on first login, otherwise counts the login, and writes the login's
   * event beside it when given: one statement, one round trip, either way.
   */
  recordLogin(input: { sub: string; address: string; walletType: WalletType; at: Date }, event?: LoginEvent): Promise<Account>;
  find(sub: string): Promise<Account | undefined>;
}

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

export function createAccountStore(db: Db): AccountStore {
  return {
    async recordLogin({ sub, address, walletType, at }, event) {
      const upsert = db('accounts')
        .insert({ sub, address, wallet_type: walletType, first_login_at: at, last_login_at: at, login_count: 1 })
        .onConflict('sub')
        .merge({ last_login_at: at, login_count: db.raw('accounts.login_count + 1') })
        .returning('*');
      const query = event ? db.with('account', upsert).with('event', db('login_events').insert(loginEventRow(event))).select('*').from('account') : upsert;
      const [row] = (await query) as Row[];
      return fromRow(row!);
    },
    async find(sub) {
      const row = (await db('accounts').where({ sub }).first()) as Row | undefined;
      return row && fromRow(row);
    },
  };
}
