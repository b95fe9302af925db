// oidc-provider's storage adapters (docs: Adapter): every model over a PayloadStore, and the Client
// model over the ClientStore with a short cache. The contract is the library's memory adapter.
import { LRUCache } from 'lru-cache';
import { errors, type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { ClientStore, PayloadStore, StoredPayload } from './ports.ts';
import { fromStorage } from './unavailable.ts';

/** A consumed row reads back with `consumed` set, as oidc-provider's reuse detection expects. */
function toPayload(stored: StoredPayload | undefined): AdapterPayload | undefined {
  if (!stored) return undefined;
  return stored.consumedAt ? { ...stored.payload, consumed: Math.floor(stored.consumedAt.getTime() / 1000) } : stored.payload;
}

/**
 * Ids and codes come straight from requests. A stored one never holds a NUL (Postgres text cannot),
 * so a lookup by one that does finds nothing, without asking the database (which would refuse it
 * with an error, and the caller would see a 500 instead of invalid_grant or invalid_token).
 */
const storable = (value: string): boolean => !value.includes('\0');

/** Every method of `adapter`, with a database outage thrown as oidc-provider's temporarily_unavailable. */
function answeringOutages(adapter: Adapter): Adapter {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, method] of Object.entries(adapter) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = (...args: unknown[]) => fromStorage(() => method(...args));
  }
  return wrapped as unknown as Adapter;
}

export function createPayloadAdapter(store: PayloadStore, model: string, clock: Clock): Adapter {
  return answeringOutages({
    async upsert(id, payload, expiresIn) {
      const expiresAt = typeof expiresIn === 'number' ? new Date(clock().getTime() + expiresIn * 1000) : undefined;
      await store.upsert(model, id, payload, expiresAt);
    },
    find: async (id) => (storable(id) ? toPayload(await store.find(model, id)) : undefined),
    findByUid: async (uid) => (storable(uid) ? toPayload(await store.findByUid(model, uid)) : undefined),
    findByUserCode: async (userCode) => (storable(userCode) ? toPayload(await store.findByUserCode(model, userCode)) : undefined),
    /**
     * oidc-provider checks `consumed` on the payload it read, then consumes: two concurrent uses
     * of one code or rotating refresh token both pass the check. Only one wins the conditional
     * consume; the other revokes the grant (RFC 6749 §4.1.2: what the first use issued dies too)
     * and answers invalid_grant, as the library does for a reuse it sees.
     */
    async consume(id) {
      if (await store.consume(model, id, clock())) return;
      const grantId = (await store.find(model, id))?.payload.grantId;
      if (typeof grantId === 'string') await store.revokeGrant(grantId);
      throw new errors.InvalidGrant(`${model === 'AuthorizationCode' ? 'authorization code' : 'token'} already used`);
    },
    destroy: (id) => store.destroy(model, id),
    revokeByGrantId: (grantId) => store.revokeByGrantId(model, grantId),
  });
}

/**
 * oidc-provider's adapter for the Client model, over the same table (static clients are not used).
 * A login looks its client up five times; found clients are kept for `cacheTtlSeconds` (0: never),
 * so a change made by another instance or the CLI takes at most that long to apply everywhere.
 */
export function createClientAdapter(store: ClientStore, cacheTtlSeconds: number): Adapter {
  const unsupported = async (): Promise<never> => {
    throw new Error('not applicable to clients');
  };
  const cache = cacheTtlSeconds > 0 ? new LRUCache<string, AdapterPayload>({ max: 1000, ttl: cacheTtlSeconds * 1000 }) : undefined;
  return answeringOutages({
    async find(id) {
      if (!storable(id)) return undefined;
      const cached = cache?.get(id);
      if (cached) return structuredClone(cached);
      const client = await store.find(id);
      if (!client) return undefined;
      const { created_at: _c, updated_at: _u, ...metadata } = client;
      cache?.set(id, metadata as AdapterPayload);
      return structuredClone(metadata) as AdapterPayload;
    },
    async upsert(id, payload) {
      cache?.delete(id);
      await store.save({ ...(payload as ClientMetadata), client_id: id });
    },
    async destroy(id) {
      cache?.delete(id);
      await store.remove(id);
    },
    findByUid: unsupported,
    findByUserCode: unsupported,
    consume: unsupported,
    revokeByGrantId: unsupported,
  });
}
