// Every store in process memory, with the same contracts as the SQL ones: for the protocol-level
// tests and the benchmark's in-memory ceiling (createContext's `stores` override). Nothing survives
// the process, so the server itself never uses these.
import { randomUUID } from 'node:crypto';
import type { AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { Stores } from '../context.ts';
import type { StoredName } from '../ens/ports.ts';
import type { Handoff } from '../http/ports.ts';
import type { LoginEvent } from '../observer.ts';
import type { Account, StoredClient, StoredPayload, StoredSigningKey } from '../oidc/ports.ts';
import type { IssuedNonce } from '../siwe/ports.ts';
import { generateSigningJwk, SIGNING_ALGS } from '../oidc/keys.ts';

export interface MemoryStores extends Stores {
  /** The login events recorded, oldest first (the audit trail a test can read). */
  readonly events: readonly LoginEvent[];
  /** Every challenge issued, oldest first. */
  readonly challenges: readonly IssuedNonce[];
}

export function createMemoryStores(clock: Clock): MemoryStores {
  const accounts = new Map<string, Account>();
  const clients = new Map<string, StoredClient>();
  const nonces = new Map<string, IssuedNonce & { consumed: boolean }>();
  const challengesPer = new Map<string, number>();
  const payloads = new Map<string, StoredPayload & { expiresAt: Date | undefined }>();
  const keys: StoredSigningKey[] = [];
  const addKeys = (jwks: StoredSigningKey['jwk'][], activatesAt: Date) => {
    for (const jwk of jwks) {
      keys.push({ kid: jwk.kid as string, alg: jwk.alg as string, jwk, createdAt: clock(), activatesAt, retiredAt: undefined });
    }
  };
  const unretired = (kid: string) => keys.find((k) => k.kid === kid && !k.retiredAt);
  const secrets = new Map<string, unknown>();
  const names = new Map<string, StoredName & { leasedUntil: Date | undefined }>();
  const handoffs = new Map<string, Handoff>();
  const events: LoginEvent[] = [];
  const key = (model: string, id: string) => `${model}\0${id}`;
  const findBy = (model: string, field: 'uid' | 'userCode', value: string) => {
    for (const [k, v] of payloads) if (k.startsWith(`${model}\0`) && v.payload[field] === value) return v;
    return undefined;
  };
  const copy = (p: (StoredPayload & { expiresAt: Date | undefined }) | undefined): StoredPayload | undefined =>
    p && { id: p.id, payload: structuredClone(p.payload), consumedAt: p.consumedAt };

  return {
    events,
    get challenges() {
      return [...nonces.values()];
    },
    accounts: {
      async recordLogin({ sub, address, walletType, at }, event) {
        const existing = accounts.get(sub);
        if (existing?.disabledAt || (existing && existing.walletType !== walletType)) return undefined;
        const account: Account = existing
          ? { ...existing, lastLoginAt: at, loginCount: existing.loginCount + 1 }
          : { id: randomUUID(), sub, address, walletType, firstLoginAt: at, lastLoginAt: at, loginCount: 1 };
        accounts.set(sub, account);
        if (event) events.push(event);
        return { ...account };
      },
      find: async (sub) => {
        const account = accounts.get(sub);
        return account && { ...account };
      },
      findByAddress: async (address) => [...accounts.values()].filter((a) => a.address.toLowerCase() === address.toLowerCase()).map((a) => ({ ...a })),
      list: async (limit) =>
        [...accounts.values()]
          .sort((a, b) => b.lastLoginAt.getTime() - a.lastLoginAt.getTime())
          .slice(0, limit)
          .map((a) => ({ ...a })),
      async setDisabled(subs, disabled) {
        const changed = subs.filter((sub) => {
          const account = accounts.get(sub);
          if (!account || Boolean(account.disabledAt) === Boolean(disabled)) return false;
          const { disabledAt: _a, disabledReason: _r, ...enabled } = account;
          accounts.set(sub, disabled ? { ...enabled, disabledAt: disabled.at, disabledReason: disabled.reason } : enabled);
          return true;
        });
        return changed;
      },
    },
    clients: {
      async save(metadata: ClientMetadata) {
        const now = clock().toISOString();
        const created = clients.get(metadata.client_id)?.created_at ?? now;
        clients.set(metadata.client_id, { ...structuredClone(metadata), created_at: created, updated_at: now });
      },
      find: async (id) => structuredClone(clients.get(id)),
      list: async () => [...clients.values()].map((c) => structuredClone(c)),
      remove: async (id) => clients.delete(id),
    },
    nonces: {
      async insert(n, limit) {
        const count = challengesPer.get(n.interactionUid) ?? 0;
        if (count >= limit) return false;
        challengesPer.set(n.interactionUid, count + 1);
        nonces.set(n.nonce, { ...n, consumed: false });
        return true;
      },
      async pending(nonce, interactionUid) {
        const n = nonces.get(nonce);
        if (!n || n.interactionUid !== interactionUid || n.consumed) return undefined;
        const { consumed: _c, ...issued } = n;
        return issued;
      },
      // One synchronous check-and-set: of concurrent callers, exactly one sees consumed === false.
      async consume(nonce, interactionUid) {
        const n = nonces.get(nonce);
        if (!n || n.interactionUid !== interactionUid) return { status: 'unknown' };
        if (n.consumed) return { status: 'used' };
        n.consumed = true;
        const { consumed: _c, ...issued } = n;
        return { status: 'consumed', issued };
      },
    },
    loginEvents: {
      record: async (event) => void events.push(event),
      list: async (f) =>
        events
          .filter(
            (e) =>
              (f.outcome === undefined || e.outcome === f.outcome) &&
              (f.reason === undefined || e.reason === f.reason) &&
              (f.address === undefined || e.address?.toLowerCase() === f.address.toLowerCase()) &&
              (f.clientId === undefined || e.clientId === f.clientId) &&
              (f.since === undefined || e.at >= f.since) &&
              (f.until === undefined || e.at < f.until),
          )
          // Newest first; among equal times, the later recorded first (as the SQL store's id order).
          .reverse()
          .sort((a, b) => b.at.getTime() - a.at.getTime())
          .slice(0, f.limit)
          .map((e) => ({ ...e })),
    },
    payloads: {
      async upsert(model, id, payload: AdapterPayload, expiresAt, unlessStoredHas) {
        const stored = payloads.get(key(model, id))?.payload;
        if (stored && unlessStoredHas?.some((field) => field in stored)) return false;
        payloads.set(key(model, id), { id, payload: structuredClone(payload), consumedAt: undefined, expiresAt });
        return true;
      },
      find: async (model, id) => copy(payloads.get(key(model, id))),
      findByUid: async (model, uid) => copy(findBy(model, 'uid', uid)),
      findByUserCode: async (model, userCode) => copy(findBy(model, 'userCode', userCode)),
      // One synchronous check-and-set, as the SQL store's conditional UPDATE.
      async consume(model, id, at) {
        const p = payloads.get(key(model, id));
        if (!p || p.consumedAt) return false;
        p.consumedAt = at;
        return true;
      },
      destroy: async (model, id) => void payloads.delete(key(model, id)),
      async revokeByGrantId(model, grantId) {
        for (const [k, v] of payloads) if (k.startsWith(`${model}\0`) && v.payload.grantId === grantId) payloads.delete(k);
      },
      async revokeGrant(grantId) {
        for (const [k, v] of payloads) if (v.payload.grantId === grantId || k === key('Grant', grantId)) payloads.delete(k);
      },
      async revokeAccount(accountId) {
        let count = 0;
        for (const [k, v] of payloads) if (v.payload.accountId === accountId && payloads.delete(k)) count++;
        return count;
      },
    },
    signingKeys: {
      list: async () => keys.map((k) => ({ ...k, jwk: { ...k.jwk } })),
      async add(jwks, activatesAt, now) {
        if (keys.some((k) => !k.retiredAt && k.activatesAt > now)) return false;
        addKeys(jwks, activatesAt);
        return true;
      },
      async setActivation(kid, at) {
        const k = unretired(kid);
        if (k) k.activatesAt = at;
        return k !== undefined;
      },
      async retire(kid, at, activatesAt) {
        const k = unretired(kid);
        if (!k || k.activatesAt.getTime() !== activatesAt.getTime()) return false;
        k.retiredAt = at;
        return true;
      },
      async ensure() {
        const have = new Set(keys.filter((k) => !k.retiredAt).map((k) => k.alg));
        addKeys(SIGNING_ALGS.filter((alg) => !have.has(alg)).map(generateSigningJwk), clock());
      },
    },
    names: {
      async find(address) {
        const row = names.get(address);
        if (!row) return undefined;
        const { leasedUntil: _l, ...stored } = row;
        return stored;
      },
      // One synchronous check-and-set, as the SQL store's conditional upsert.
      async lease(address, now, until) {
        const row = names.get(address);
        if (!row) {
          names.set(address, { name: undefined, avatar: undefined, resolvedAt: undefined, refreshAfter: now, failures: 0, leasedUntil: until });
          return true;
        }
        if (row.refreshAfter > now || (row.leasedUntil && row.leasedUntil > now)) return false;
        row.leasedUntil = until;
        return true;
      },
      async saveAnswer(address, answer, at, refreshAfter) {
        const row = names.get(address);
        if (row) Object.assign(row, { name: answer?.name, avatar: answer?.avatar, resolvedAt: at, refreshAfter, failures: 0, leasedUntil: undefined });
      },
      async saveFailure(address, retryAfter) {
        const row = names.get(address);
        if (row) Object.assign(row, { refreshAfter: retryAfter, failures: row.failures + 1, leasedUntil: undefined });
      },
    },
    handoffs: {
      async create(h) {
        for (const [id, old] of handoffs) if (old.interactionUid === h.interactionUid) handoffs.delete(id);
        handoffs.set(h.id, { ...h, device: undefined, signedAt: undefined });
      },
      find: async (id) => {
        const h = handoffs.get(id);
        return h && { ...h };
      },
      findByInteraction: async (uid) => {
        for (const h of handoffs.values()) if (h.interactionUid === uid) return { ...h };
        return undefined;
      },
      // Synchronous check-and-set, as the SQL store's conditional updates.
      async claim(id, device, now) {
        const h = handoffs.get(id);
        if (!h || h.device !== undefined || h.claimUntil <= now) return false;
        h.device = device;
        return true;
      },
      async markSigned(id, device, now) {
        const h = handoffs.get(id);
        if (!h || h.device !== device || h.signedAt) return false;
        h.signedAt = now;
        return true;
      },
      async markSignedHere(uid, now) {
        for (const h of handoffs.values()) {
          if (h.interactionUid !== uid) continue;
          if (h.signedAt) return false;
          h.signedAt = now;
        }
        return true;
      },
    },
    secrets: {
      async getOrCreate<T>(name: string, generate: () => T): Promise<T> {
        if (!secrets.has(name)) secrets.set(name, generate());
        return secrets.get(name) as T;
      },
    },
    // Memory never fails half-way, so there is nothing to roll back.
    atomic: (fn) => fn(),
  };
}
