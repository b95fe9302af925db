// OAuth clients (RFC 7591 metadata) kept in oidc_clients, secrets sealed under ENCRYPTION_KEY.
import type { ClientMetadata } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { ClientStore, StoredClient } from '../oidc/ports.ts';
import type { Db } from './knex.ts';
import type { SecretBox } from './secret-box.ts';

type Row = { client_id: string; metadata: ClientMetadata; secret_sealed: string | null; created_at: Date; updated_at: Date };

export function createClientStore(db: Db, box: SecretBox, clock: Clock): ClientStore {
  const fromRow = (row: Row): StoredClient => ({
    ...row.metadata,
    client_id: row.client_id,
    ...(row.secret_sealed ? { client_secret: box.open(row.secret_sealed) } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  });

  const save = async (metadata: ClientMetadata): Promise<void> => {
    const { client_id, client_secret, ...rest } = metadata;
    const now = clock();
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
