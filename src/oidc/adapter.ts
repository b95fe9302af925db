// oidc-provider's storage adapters (docs: Adapter): every model over a PayloadStore, and the Client
// model over the ClientStore with a short cache. The contract is the library's memory adapter.
import { LRUCache } from 'lru-cache';
import { errors, type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { isDataException } from '../errors.ts';
import type { ClientStore, PayloadStore, StoredPayload } from './ports.ts';

/** A consumed row reads back with `consumed` set, as oidc-provider's reuse detection expects. */
function toPayload(stored: StoredPayload | undefined): AdapterPayload | undefined {
  if (!stored) return undefined;
  return stored.consumedAt ? { ...stored.payload, consumed: Math.floor(stored.consumedAt.getTime() / 1000) } : stored.payload;
}

/**
 * Ids and codes come straight from requests (some from inside a JWT, where no input check sees them).
 * The database refuses a value it cannot hold (a NUL) with a data exception: no stored row can match
 * it, so the lookup finds nothing, and the caller answers invalid_grant or invalid_token, not a 500.
 */
async function lookup<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isDataException(err)) return undefined;
    throw err;
  }
}

/**
 * The authorization request's parameters are kept whole with its interaction: larger ones are refused
 * (invalid_request, sent to the client's redirect URI once it is validated), so no request stores more.
 */
export const AUTHORIZATION_PARAMS_LIMIT = 8192;

export function createPayloadAdapter(store: PayloadStore, model: string, clock: Clock): Adapter {
  return {
    async upsert(id, payload, expiresIn) {
      // A session without an account holds nothing worth keeping (a logged-out browser, a logout without
      // a session, a stale cookie): oidc-provider would save one for each such request, for ttl.Session.
      if (model === 'Session' && !payload.accountId) return;
      if (model === 'Interaction' && Buffer.byteLength(JSON.stringify(payload.params ?? {})) > AUTHORIZATION_PARAMS_LIMIT) {
        throw new errors.InvalidRequest(`the authorization request's parameters are over ${AUTHORIZATION_PARAMS_LIMIT} bytes`);
      }
      const expiresAt = typeof expiresIn === 'number' ? new Date(clock().getTime() + expiresIn * 1000) : undefined;
      try {
        await store.upsert(model, id, payload, expiresAt);
      } catch (err) {
        if (isDataException(err)) throw new errors.InvalidRequest('the request holds a value that cannot be stored');
        throw err;
      }
    },
    find: async (id) => toPayload(await lookup(() => store.find(model, id))),
    findByUid: async (uid) => toPayload(await lookup(() => store.findByUid(model, uid))),
    findByUserCode: async (userCode) => toPayload(await lookup(() => store.findByUserCode(model, userCode))),
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
  };
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
  return {
    async find(id) {
      const cached = cache?.get(id);
      if (cached) return structuredClone(cached);
      const client = await lookup(() => store.find(id));
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
  };
}
