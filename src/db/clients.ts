// OAuth clients (RFC 7591 metadata) kept in oidc_clients, secrets sealed; also oidc-provider's Client adapter.
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Db } from './knex.ts';
import type { SecretBox } from './secret-box.ts';

export interface StoredClient extends ClientMetadata {
  client_id: string;
  created_at?: string;
  updated_at?: string;
}

export interface ClientStore {
  /** Stores metadata as given: validate it first (oidc/clients.ts). */
  save(metadata: ClientMetadata): Promise<void>;
  find(clientId: string): Promise<StoredClient | undefined>;
  list(): Promise<StoredClient[]>;
  remove(clientId: string): Promise<boolean>;
}

type Row = { client_id: string; metadata: ClientMetadata; secret_sealed: string | null; created_at: Date; updated_at: Date };

export function createClientStore(db: Db, box: SecretBox): ClientStore {
  const fromRow = (row: Row): StoredClient => ({
    ...row.metadata,
    client_id: row.client_id,
    ...(row.secret_sealed ? { client_secret: box.open(row.secret_sealed) } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  });

  const save = async (metadata: ClientMetadata): Promise<void> => {
    const { client_id, client_secret, ...rest } = metadata;
    const now = new Date();
    await db('oidc_clients')
      .insert({
        client_id,
        metadata: JSON.stringify(rest),
        secret_sealed: client_secret ? box.seal(client_secret) : null,
        created_at: now,
        updated_at: now,
      })
      .onConflict('client_id')
      .merge(['metadata', 'secret_sealed', 'updated_at']);
  };

  const find = async (clientId: string): Promise<StoredClient | undefined> => {
    const row = (await db('oidc_clients').where({ client_id: clientId }).first()) as Row | undefined;
    return row && fromRow(row);
  };

  return {
    save,
    find,
    async list() {
      const rows = (await db('oidc_clients').orderBy('created_at')) as Row[];
      return rows.map(fromRow);
    },
    async remove(clientId) {
      return (await db('oidc_clients').where({ client_id: clientId }).delete()) > 0;
    },
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
  };
}
