// Registering and updating clients: ids and secrets are generated here, metadata is validated by
// oidc-provider's own client schema (RFC 7591 fields plus our skip_consent), so what we store it loads.
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { ClientStore, StoredClient } from './ports.ts';
import { ClientMetadataError } from '../errors.ts';

/**
 * Client auth methods offered (docs: clientAuthMethods): what Auth0, Keycloak, Okta and SPAs send.
 * Here, not in provider.ts: the CLI offers them as choices without loading oidc-provider.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_post', 'client_secret_basic', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;

type ClientClass = new (metadata: ClientMetadata) => { metadata(): Record<string, unknown> };
// needsSecret is public in oidc-provider's Client (lib/models/client.js) though its types omit it.
type ClientStatics = { validate(m: ClientMetadata): Promise<void>; needsSecret(m: ClientMetadata): boolean };

/** Fields the operator may not set: they are generated or kept by us. */
const MANAGED = ['client_id', 'client_secret', 'client_id_issued_at', 'client_secret_expires_at', 'registration_access_token', 'registration_client_uri'];

const newSecret = () => randomBytes(32).toString('base64url');

/** Keys that reach an object's prototype when merged by a careless consumer (prototype pollution). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Throws ClientMetadataError for a forbidden key at any depth: metadata is stored and merged, never executed. */
function checkKeys(value: unknown, path: string[] = []): void {
  if (typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    const at = [...path, key];
    if (FORBIDDEN_KEYS.has(key)) throw new ClientMetadataError('invalid_client_metadata', `${at.join('.')}: the key "${key}" is not allowed`);
    checkKeys((value as Record<string, unknown>)[key], at);
  }
}

/**
 * A response type with `id_token` or `token` is the implicit or hybrid flow (OIDC Core §3.2, §3.3),
 * whose redirect URIs must be https and not localhost (OIDC Registration §2). oidc-provider applies
 * that rule only when `grant_types` lists `implicit`, and adds `implicit` itself only afterwards:
 * adding it first lets the library's own check run, and is what it would store anyway.
 */
export function withImplicitGrant<T extends Partial<ClientMetadata>>(metadata: T): T {
  const responseTypes = (metadata.response_types ?? []).flatMap((type) => type.split(' '));
  if (!responseTypes.some((type) => type === 'id_token' || type === 'token')) return metadata;
  const grantTypes = metadata.grant_types ?? ['authorization_code'];
  return grantTypes.includes('implicit') ? metadata : { ...metadata, grant_types: [...grantTypes, 'implicit'] };
}

/** What the client adapter runs on every client it loads, so a client stored before a rule existed is not served. */
export function checkStoredClient(metadata: Record<string, unknown>): Record<string, unknown> {
  checkKeys(metadata);
  return withImplicitGrant(metadata as Partial<ClientMetadata>) as Record<string, unknown>;
}

/** Throws ClientMetadataError for anything oidc-provider would refuse, and for fields it would silently drop. */
async function validate(provider: Provider, metadata: ClientMetadata): Promise<void> {
  const Client = provider.Client as unknown as ClientClass & ClientStatics;
  let recognized: Record<string, unknown>;
  try {
    await Client.validate(metadata);
    recognized = new Client(metadata).metadata();
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message?: string };
    throw new ClientMetadataError(e.error ?? 'invalid_client_metadata', e.error_description ?? e.message ?? String(err));
  }
  // Own keys only: `in` would also find Object.prototype's (`constructor`, `toString`…).
  const unknown = Object.keys(metadata).filter((k) => metadata[k] !== undefined && !Object.hasOwn(recognized, k));
  if (unknown.length) throw new ClientMetadataError('invalid_client_metadata', `unknown client metadata: ${unknown.join(', ')}`);
}

function checkManaged(input: Record<string, unknown>): void {
  const managed = Object.keys(input).filter((k) => MANAGED.includes(k));
  if (managed.length) throw new ClientMetadataError('invalid_client_metadata', `${managed.join(', ')} cannot be set: wallet-oidc generates it`);
}

function needsSecret(provider: Provider, metadata: ClientMetadata): boolean {
  return (provider.Client as unknown as ClientStatics).needsSecret(metadata);
}

export async function registerClient(provider: Provider, store: ClientStore, input: Omit<ClientMetadata, 'client_id'>): Promise<StoredClient> {
  checkKeys(input);
  checkManaged(input);
  // Hex, not base64url: an id starting with "-" would read as an option to the CLI (`clients remove <id>`)
  // and to other tools, and a double-click selects a hex id whole.
  const metadata: ClientMetadata = withImplicitGrant({ ...input, client_id: randomBytes(16).toString('hex') });
  // 256-bit secrets: long enough to serve as an HS256 key for client_secret_jwt.
  if (needsSecret(provider, metadata)) metadata.client_secret = newSecret();
  await validate(provider, metadata);
  await store.save(metadata);
  return (await store.find(metadata.client_id))!;
}

/**
 * Merges `patch` into a client's metadata (a field set to null is removed), re-validates, and saves.
 * The secret is kept, generated when the new auth method needs one, dropped when it needs none,
 * and replaced when `rotateSecret` is set.
 */
export async function updateClient(
  provider: Provider,
  store: ClientStore,
  clientId: string,
  patch: Record<string, unknown>,
  opts: { rotateSecret?: boolean } = {},
): Promise<StoredClient | undefined> {
  checkKeys(patch);
  checkManaged(patch);
  const current = await store.find(clientId);
  if (!current) return undefined;
  const { created_at: _c, updated_at: _u, ...existing } = current;
  const merged: Record<string, unknown> = { ...existing, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === null) delete merged[k];
  const metadata = withImplicitGrant(merged as unknown as ClientMetadata);
  delete metadata.client_secret;
  if (needsSecret(provider, metadata)) metadata.client_secret = opts.rotateSecret || !current.client_secret ? newSecret() : current.client_secret;
  else if (opts.rotateSecret) throw new ClientMetadataError('invalid_client_metadata', 'this client authenticates without a secret: there is none to rotate');
  await validate(provider, metadata);
  await store.save(metadata);
  return store.find(clientId);
}
