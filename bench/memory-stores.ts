// In-memory stand-ins for our stores, for the benchmark's ceiling only: the same provider and login
// code with no database writes of our own, so our figures can be printed as a ratio of it.
import type { Account, AccountStore } from '../src/db/accounts.ts';
import type { LoginEventStore } from '../src/db/login-events.ts';
import type { IssuedNonce, NonceStore } from '../src/db/nonces.ts';

export function createMemoryNonceStore(): NonceStore {
  const nonces = new Map<string, IssuedNonce & { consumed: boolean }>();
  const perInteraction = new Map<string, number>();
  return {
    async insert(n, limit) {
      const count = perInteraction.get(n.interactionUid) ?? 0;
      if (count >= limit) return false;
      perInteraction.set(n.interactionUid, count + 1);
      nonces.set(n.nonce, { ...n, consumed: false });
      return true;
    },
    async consume(nonce, interactionUid) {
      const n = nonces.get(nonce);
      if (!n || n.interactionUid !== interactionUid) return { status: 'unknown' };
      if (n.consumed) return { status: 'used' };
      n.consumed = true;
      return { status: 'consumed', issued: n };
    },
  };
}

export function createMemoryAccountStore(): AccountStore {
  const accounts = new Map<string, Account>();
  return {
    async recordLogin({ sub, address, walletType, at }) {
      const existing = accounts.get(sub);
      const account: Account = existing
        ? { ...existing, lastLoginAt: at, loginCount: existing.loginCount + 1 }
        : { id: sub, sub, address, walletType, firstLoginAt: at, lastLoginAt: at, loginCount: 1 };
      accounts.set(sub, account);
      return account;
    },
    async find(sub) {
      return accounts.get(sub);
    },
  };
}

export const noLoginEvents: LoginEventStore = { record: async () => {} };
