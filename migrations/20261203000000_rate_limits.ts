// Rate-limit counters shared by every instance (src/db/rate-limits.ts). The columns, their order and
// their types are rate-limiter-flexible's RateLimiterPostgres table: its upsert inserts `VALUES ($1, $2, $3)`.
// Created here, not by the library at run time, so the schema is versioned with the rest.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (t) => {
    // The rule's name and its key (a client IP, an address, a client id), bounded in length by the caller.
    t.text('key').primary();
    t.integer('points').notNullable().defaultTo(0);
    // Milliseconds since the epoch at which the window (or a lockout) ends; the sweep deletes what is past.
    t.bigInteger('expire').index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
