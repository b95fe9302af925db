// Rate-limit counters in the database, shared by every instance: rate-limiter-flexible's Postgres store
// over our one connection pool (the `sql` helper), on Postgres and PGlite alike. The table comes from a
// migration (20261203000000_rate_limits) and expired rows go with the sweep (sweep.ts), so the library
// neither creates tables nor runs timers of its own.
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { RateCounters } from '../http/ports.ts';
import type { Sql } from './sql.ts';

export const RATE_LIMITS_TABLE = 'rate_limits';

export function createPostgresRateCounters(sql: Sql): RateCounters {
  // The library's "client" store type: it calls query({ name, text, values }) and releases nothing.
  const storeClient = { query: (q: { name?: string; text: string; values?: unknown[] }) => sql.query(q.text, q.values ?? [], q.name) };
  return (rule) =>
    new RateLimiterPostgres({
      storeClient,
      storeType: 'client',
      tableName: RATE_LIMITS_TABLE,
      tableCreated: true,
      clearExpiredByTimeout: false,
      keyPrefix: rule.name,
      points: rule.limit,
      duration: rule.windowSeconds,
      blockDuration: rule.blockSeconds ?? 0,
      // A key over its limit is then refused by this instance from memory until its window ends: a flood
      // from one address costs one write per window, not one per request. A lockout is written to the table.
      ...(rule.blockSeconds ? {} : { inMemoryBlockOnConsumed: rule.limit + 1 }),
    });
}
