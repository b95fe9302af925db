// Fixed SQL on a pooled connection, for the statements every login runs. knex's query runner costs
// about 0.05 ms of CPU per statement on top of the driver (bench: 0.137 vs 0.082 ms); a login runs
// about thirty. The connection comes from knex's own pool, so there is one pool per process.
import { AsyncLocalStorage } from 'node:async_hooks';
import { disposeIfTimedOut, type Db } from './knex.ts';
import { classifyDatabaseError } from './unavailable.ts';

export interface Sql {
  /**
   * Runs `text` with $1…$n placeholders; `rowCount` is the number of rows returned or changed.
   * A `name` makes it a prepared statement on Postgres: parsed and planned once per connection.
   */
  query<R = Record<string, unknown>>(text: string, values: readonly unknown[], name?: string): Promise<{ rows: R[]; rowCount: number }>;
  /**
   * Runs `fn` with every `query` it makes (in its async context) on one connection, in one
   * transaction: committed when `fn` resolves, rolled back when it throws. Nested calls join the outer one.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
}

interface Connection {
  query(
    query: string | { name: string; text: string; values: readonly unknown[] },
    values?: readonly unknown[],
  ): Promise<{ rows: unknown[]; rowCount?: number | null; affectedRows?: number }>;
  /** pg's Client: closing it makes knex's pool discard it (PGlite's single connection is never closed here). */
  end?(): Promise<void>;
}

/** Both drivers (pg's Client, PGlite) take `query(text, values)` with $n placeholders. */
export function createSql(db: Db): Sql {
  // knex's Client: the documented way its runner borrows a connection (knex/lib/client.js).
  const client = db.client as unknown as { acquireConnection(): Promise<Connection>; releaseConnection(c: Connection): Promise<void> };
  // Only pg's Client understands named (prepared) statements; PGlite runs in-process and gains nothing.
  const pg = db.client.config.client === 'pg';
  // The connection of the transaction the caller is in, if any.
  const held = new AsyncLocalStorage<Connection>();
  // knex's query id, so listeners (the metrics' query latency) pair each query with its answer.
  let queryCount = 0;

  const acquire = async () => {
    try {
      return await client.acquireConnection();
    } catch (err) {
      throw classifyDatabaseError(err);
    }
  };
  const run = async (connection: Connection, text: string, values: readonly unknown[], name?: string) => {
    try {
      return pg && name ? await connection.query({ name, text, values }) : await connection.query(text, values);
    } catch (err) {
      throw classifyDatabaseError(disposeIfTimedOut(connection, err));
    }
  };

  return {
    async query<R>(text: string, values: readonly unknown[], name?: string) {
      // knex's own events, so its query listeners (logging, the benchmark's counter, metrics) see these too.
      const event = { sql: text, bindings: values, __knexQueryUid: `sql-${++queryCount}` };
      const inTransaction = held.getStore();
      const connection = inTransaction ?? (await acquire());
      // After the pool gave a connection, as knex does: the wait for one is the pool's gauges' to show.
      db.emit('query', event);
      try {
        const result = await run(connection, text, values, name);
        db.emit('query-response', result, event);
        const changed = result.affectedRows ?? 0;
        return { rows: result.rows as R[], rowCount: Math.max(result.rowCount ?? 0, changed) };
      } catch (err) {
        db.emit('query-error', err, event);
        throw err;
      } finally {
        if (!inTransaction) await client.releaseConnection(connection);
      }
    },

    async transaction(fn) {
      if (held.getStore()) return fn();
      const connection = await acquire();
      try {
        await run(connection, 'BEGIN', []);
        const result = await held.run(connection, fn);
        await run(connection, 'COMMIT', []);
        return result;
      } catch (err) {
        try {
          await run(connection, 'ROLLBACK', []);
        } catch {
          // The connection is gone (the server rolls back by itself) or unusable: never pool it again.
          if (pg) await connection.end?.().catch(() => {});
        }
        throw err;
      } finally {
        await client.releaseConnection(connection);
      }
    },
  };
}
