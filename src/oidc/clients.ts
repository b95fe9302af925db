// Registering clients: ids and secrets are generated here, metadata is validated by oidc-provider itself.
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';
import type { ClientStore, StoredClient } from '../db/clients.ts';

export class ClientMetadataError extends Error {
  readonly code: string;
  constructor(code: string, description: string) {
    super(description);
    this.name = 'ClientMetadataError';
    this.code = code;
  }
}

/** Validates with oidc-provider's own client schema, so whatever we store the provider will load. */
async function validate(provider: Provider, metadata: ClientMetadata): Promise<void> {
  try {
    await provider.Client.validate(metadata);
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message?: string };
    throw new ClientMetadataError(e.error ?? 'invalid_client_metadata', e.error_description ?? e.message ?? String(err));
  }
}

export async function registerClient(provider: Provider, store: ClientStore, input: Omit<ClientMetadata, 'client_id'>): Promise<StoredClient> {
  const metadata: ClientMetadata = { ...input, client_id: randomBytes(16).toString('base64url') };
  // 256-bit secrets: long enough to serve as an HS256 key for client_secret_jwt.
  // needsSecret is public in oidc-provider's Client (lib/models/client.js) though its types omit it.
  if ((provider.Client as unknown as { needsSecret(m: ClientMetadata): boolean }).needsSecret(metadata)) metadata.client_secret = randomBytes(32).toString('base64url');
  await validate(provider, metadata);
  await store.save(metadata);
  return (await store.find(metadata.client_id))!;
}
