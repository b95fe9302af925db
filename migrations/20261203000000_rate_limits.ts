// Rate-limit counters shared by every instance (src/db/rate-limits.ts). The columns, their order and
// their types are rate-limiter-flexible's RateLimiterPostgres table: its upsert inserts `VALUES ($1, $2, $3)`.
// Created here, not by the library at run time, so the schema is versioned with the rest.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // UNLOGGED: no write-ahead log, so a counted request costs no WAL flush (2.4 ms each on a logged table
  // here, most of a request's time). The price: a crash empties the table and standbys never see it, so
  // counts and lockouts restart after a crash or a failover. `key` is the rule's name and its key (a client
  // IP, an address, a client id), bounded by the caller; `expire` is when the window or lockout ends, in ms.
  await knex.raw(`CREATE UNLOGGED TABLE rate_limits (
    key text PRIMARY KEY,
    points integer NOT NULL DEFAULT 0,
    expire bigint
  )`);
  await knex.raw('CREATE INDEX rate_limits_expire ON rate_limits (expire)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
