// Ids that are bearer secrets are stored as their SHA-256, so a read of the database (a backup, a
// replica, an injection elsewhere) yields no token that works. The adapter (oidc/adapter.ts) hashes
// on the way in and restores the id on the way out; the stores never see a token.
import { createHash } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider's models whose id is the value a client or browser presents: tokens, codes, and the
 * Session (its id is the `_session` cookie). Not hashed: Grant, Interaction (its id is in the
 * interaction URL anyway), ReplayDetection, Client, PushedAuthorizationRequest (a one-time reference).
 * The migration 20261203000100_hash_token_ids lists the same models.
 */
export const HASHED_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'Session',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'PreAuthorizedCode',
]);

/**
 * The stored form of a bearer id: SHA-256 of its UTF-8 bytes, in lower-case hex, which is what
 * Postgres's `encode(sha256(convert_to(id, 'UTF8')), 'hex')` gives (the migration relies on it).
 * No salt or slow hash: the ids are 256-bit random values (nanoid), which no dictionary holds.
 */
export const hashTokenId = (id: string): string => createHash('sha256').update(id, 'utf8').digest('hex');

/**
 * A record found by uid or user code has no id to give back, only its hash. The library may save
 * such a record again (a DeviceCode after the user approves), so its `jti` becomes this handle,
 * which saves, consumes and destroys the same row. A handle is not a token: `find` hashes whatever
 * it is given, so presenting one finds nothing.
 */
const HANDLE = 'stored-sha256:';

/** The id to store under, for writes the library makes with an id it generated or read back. */
export const storedIdForWrite = (id: string): string => (id.startsWith(HANDLE) ? id.slice(HANDLE.length) : hashTokenId(id));

export const isHandle = (id: string): boolean => id.startsWith(HANDLE);

/** The `jti` a record found by a secondary key reads back with. */
export const handleFor = (storedId: string): string => `${HANDLE}${storedId}`;

/**
 * What is written for a bearer-secret model: the payload without `jti`, which is the token itself
 * (oidc-provider puts it in every payload); `find` restores it from the id it was asked for.
 */
export function withoutJti(payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, ...rest } = payload;
  return rest;
}

/**
 * An Interaction started while a session exists copies the session's cookie value into
 * `session.cookie`. oidc-provider never reads it back (it looks sessions up by uid), so it is dropped.
 */
export function withoutSessionCookie(payload: AdapterPayload): AdapterPayload {
  const session = payload.session as Record<string, unknown> | undefined;
  if (!session || typeof session !== 'object' || !('cookie' in session)) return payload;
  const { cookie: _cookie, ...rest } = session;
  return { ...payload, session: rest };
}
