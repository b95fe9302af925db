// Fixed SQL on a pooled connection, for the statements every login runs. knex's query runner costs
// about 0.05 ms of CPU per statement on top of the driver (bench: 0.137 vs 0.082 ms); a login runs
// about thirty. The connection comes from knex's own pool, so there is one pool per process.
import type { Db } from './knex.ts';

export interface Sql {
  /** Runs `text` with $1…$n placeholders; `rowCount` is the number of rows returned or changed. */
  query<R = Record<string, unknown>>(text: string, values: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

interface Connection {
  query(text: string, values: readonly unknown[]): Promise<{ rows: unknown[]; rowCount?: number | null; affectedRows?: number }>;
}

/** Both drivers (pg's Client, PGlite) take `query(text, values)` with $n placeholders. */
export function createSql(db: Db): Sql {
  // knex's Client: the documented way its runner borrows a connection (knex/lib/client.js).
  const client = db.client as unknown as { acquireConnection(): Promise<Connection>; releaseConnection(c: Connection): Promise<void> };
  return {
    async query<R>(text: string, values: readonly unknown[]) {
      const connection = await client.acquireConnection();
      try {
        const result = await connection.query(text, values);
        const changed = result.affectedRows ?? 0;
        return { rows: result.rows as R[], rowCount: Math.max(result.rowCount ?? 0, changed) };
      } finally {
        await client.releaseConnection(connection);
      }
    },
  };
}
