// oidc-provider's storage adapters (docs: Adapter): every model over a PayloadStore, and the Client
// model over the ClientStore with a short cache. The contract is the library's memory adapter.
import { LRUCache } from 'lru-cache';
import Provider, { errors, type Adapter, type AdapterPayload, type ClientMetadata } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { ClientMetadataError, isDataException } from '../errors.ts';
import { AlreadyUsedError } from 'oidc-provider/lib/helpers/re_render_errors.js';
import { checkStoredClient } from './clients.ts';
import { handleFor, HASHED_MODELS, hashTokenId, isHandle, storedIdForWrite, withoutJti, withoutSessionCookie } from './token-ids.ts';
import type { ClientStore, PayloadStore, StoredPayload } from './ports.ts';
import { fromStorage } from './unavailable.ts';

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

/** How one model's ids and payloads are stored: bearer secrets hashed, without their `jti` (oidc/token-ids.ts). */
function idsFor(model: string) {
  if (!HASHED_MODELS.has(model)) {
    const same = (id: string) => id;
    return { lookup: same, write: same, stored: (payload: AdapterPayload) => (model === 'Interaction' ? withoutSessionCookie(payload) : payload) };
  }
  return {
    /** A presented value: always hashed, so a stored hash presented as a token finds nothing. */
    lookup: hashTokenId,
    /** An id oidc-provider generated or read back (a handle, for a record found by uid or user code). */
    write: storedIdForWrite,
    stored: withoutJti,
  };
}

/** Every method of `adapter`, with a database outage thrown as oidc-provider's temporarily_unavailable. */
function answeringOutages(adapter: Adapter): Adapter {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, method] of Object.entries(adapter) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = (...args: unknown[]) => fromStorage(() => method(...args));
  }
  return wrapped as unknown as Adapter;
}

/**
 * What a device code's save may not overwrite. A code moves forward only: from new to in flight (Continue) or denied
 * (Cancel), then from in flight to approved or failed. oidc-provider reads a code, checks it and saves it whole
 * (lib/actions/code_verification.js, lib/actions/authorization/device.js), so without this two browsers confirming one
 * user code at once both went on to sign in, a Continue overwrote a concurrent Cancel, and a later approval replaced an
 * earlier one (and its redemption). A save whose step the stored code has already taken is refused as already used.
 */
const deviceCodeStepsTaken = (payload: AdapterPayload) =>
  payload.inFlight && (payload.accountId || payload.error) ? ['accountId', 'error'] : ['inFlight', 'accountId', 'error'];

export function createPayloadAdapter(store: PayloadStore, model: string, clock: Clock): Adapter {
  const ids = idsFor(model);
  const hashed = HASHED_MODELS.has(model);
  /** A record read back by the id it was asked for carries that id as `jti` again. */
  const byId = (id: string, stored: StoredPayload | undefined) => {
    const payload = toPayload(stored);
    return payload && hashed ? { ...payload, jti: id } : payload;
  };
  /** Found by a secondary key: the id is unknown, so `jti` is a handle to the stored row. */
  const byKey = (stored: StoredPayload | undefined) => {
    const payload = toPayload(stored);
    return payload && stored && hashed ? { ...payload, jti: handleFor(stored.id) } : payload;
  };
  /**
   * A device login's Interaction refers to its DeviceCode by the handle it was found with (by user code), and oidc-provider
   * finds it by that reference when the browser comes back from the login (the `device_resume` route,
   * lib/actions/authorization/device.js). Only there does a handle find its row: presented anywhere else (a device_code at
   * /token) it is hashed like any value, so a stored hash still redeems nothing. oidc-provider runs every request in its
   * own async context (Provider.ctx), which tells the route.
   */
  const lookupId = (id: string) =>
    model === 'DeviceCode' && isHandle(id) && Provider.ctx?.oidc?.route === 'device_resume' ? storedIdForWrite(id) : ids.lookup(id);
  return answeringOutages({
    async upsert(id, payload, expiresIn) {
      // A session without an account holds nothing worth keeping (a logged-out browser, a logout without
      // a session, a stale cookie): oidc-provider would save one for each such request, for ttl.Session. The device flow's
      // user-code form is the exception: it keeps its xsrf secret in the session's `state` (lib/shared/xsrf.js), so the
      // form's route saves one (for a device code's lifetime: ttl.Session in oidc/provider.ts).
      if (model === 'Session' && !payload.accountId && Provider.ctx?.oidc?.route !== 'code_verification') return;
      if (model === 'Interaction' && Buffer.byteLength(JSON.stringify(payload.params ?? {})) > AUTHORIZATION_PARAMS_LIMIT) {
        throw new errors.InvalidRequest(`the authorization request's parameters are over ${AUTHORIZATION_PARAMS_LIMIT} bytes`);
      }
      const expiresAt = typeof expiresIn === 'number' ? new Date(clock().getTime() + expiresIn * 1000) : undefined;
      try {
        const settled = model === 'DeviceCode' ? deviceCodeStepsTaken(payload) : undefined;
        if (!(await store.upsert(model, ids.write(id), ids.stored(payload), expiresAt, settled))) throw new AlreadyUsedError();
      } catch (err) {
        if (isDataException(err)) throw new errors.InvalidRequest('the request holds a value that cannot be stored');
        throw err;
      }
    },
    find: async (id) => byId(id, await lookup(() => store.find(model, lookupId(id)))),
    findByUid: async (uid) => byKey(await lookup(() => store.findByUid(model, uid))),
    findByUserCode: async (userCode) => byKey(await lookup(() => store.findByUserCode(model, userCode))),
    /**
     * oidc-provider checks `consumed` on the payload it read, then consumes: two concurrent uses
     * of one code or rotating refresh token both pass the check. Only one wins the conditional
     * consume; the other revokes the grant (RFC 6749 §4.1.2: what the first use issued dies too)
     * and answers invalid_grant, as the library does for a reuse it sees.
     */
    async consume(id) {
      const storedId = ids.write(id);
      if (await store.consume(model, storedId, clock())) return;
      const grantId = (await store.find(model, storedId))?.payload.grantId;
      if (typeof grantId === 'string') await store.revokeGrant(grantId);
      const what = model === 'AuthorizationCode' ? 'authorization code' : model === 'DeviceCode' ? 'device code' : 'token';
      throw new errors.InvalidGrant(`${what} already used`);
    },
    destroy: (id) => store.destroy(model, ids.write(id)),
    revokeByGrantId: (grantId) => store.revokeByGrantId(model, grantId),
  });
}

/**
 * A stored client passes the rules registration applies today, whenever it was written: the implicit
 * grant its response types imply is made explicit, so oidc-provider's own schema, which validates
 * every client it loads, refuses an http or localhost redirect URI for it (invalid_client_metadata).
 */
function loadable(stored: Record<string, unknown>): Record<string, unknown> {
  try {
    return checkStoredClient(stored);
  } catch (err) {
    if (err instanceof ClientMetadataError) throw new errors.InvalidClientMetadata(err.message);
    throw err;
  }
}

/**
 * oidc-provider's adapter for the Client model, over the same table (static clients are not used).
 * A login looks its client up five times; found clients are kept for `cacheTtlSeconds` (0: never).
 * A change made by the CLI is announced on the change feed, and the context calls `forget` on every
 * instance: the TTL only bounds how long a lost announcement can leave a stale client. oidc-provider
 * keeps its own Client instances keyed by a hash of their metadata (lib/models/client.js,
 * `dynamicClients`): changed metadata misses that cache, so this one is the only one to empty.
 */
export function createClientAdapter(store: ClientStore, cacheTtlSeconds: number): Adapter & { forget(clientId?: string): void } {
  const unsupported = async (): Promise<never> => {
    throw new Error('not applicable to clients');
  };
  const cache = cacheTtlSeconds > 0 ? new LRUCache<string, AdapterPayload>({ max: 1000, ttl: cacheTtlSeconds * 1000 }) : undefined;
  const adapter = answeringOutages({
    async find(id) {
      const cached = cache?.get(id);
      if (cached) return structuredClone(cached);
      const client = await lookup(() => store.find(id));
      if (!client) return undefined;
      const { created_at: _c, updated_at: _u, ...stored } = client;
      const metadata = loadable(stored);
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
  return Object.assign(adapter, { forget: (clientId?: string) => void (clientId === undefined ? cache?.clear() : cache?.delete(clientId)) });
}
