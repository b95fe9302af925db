// The knex factory: Postgres through pg, or the embedded PGlite (same SQL, same migrations).
import fs from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type { Config } from '../config/index.ts';
import * as createSchema from '../../migrations/20261122000000_create_schema.ts';
import * as rateLimits from '../../migrations/20261203000000_rate_limits.ts';

export type Db = Knex;

// Migrations are imported, not globbed from disk, so they load the same under tsx and in a bundle.
const MIGRATIONS: Record<string, Knex.Migration> = {
  '20261122000000_create_schema': createSchema,
  '20261203000000_rate_limits': rateLimits,
};

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name]!,
};

/**
 * knex-pglite 0.14 reports a delete's command as "DEL", so knex returns the raw result instead of
 * the deleted row count; naming the method `delete` gives knex the "DELETE" it expects.
 */
class PgliteClient extends (ClientPgLite as unknown as new (config: Knex.Config) => { processResponse(obj: { method?: string }, runner: unknown): unknown }) {
  override processResponse(obj: { method?: string }, runner: unknown): unknown {
    return super.processResponse(obj.method === 'del' ? { ...obj, method: 'delete' } : obj, runner);
  }
}

export function createDb(database: Config['database']): Db {
  if (database.kind === 'postgres') {
    return knex({ client: 'pg', connection: database.url, pool: { min: 0, max: database.poolMax } });
  }
  fs.mkdirSync(database.dataDir, { recursive: true });
  return knex({
    client: PgliteClient as unknown as typeof knex.Client,
    dialect: 'postgres',
    connection: { filename: path.resolve(database.dataDir, 'pglite') } as Knex.StaticConnectionConfig,
  });
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

export async function migrationStatus(db: Db): Promise<{ done: string[]; pending: string[] }> {
  const [done, pending] = (await db.migrate.list({ migrationSource })) as [{ name: string }[], string[]];
  return { done: done.map((m) => m.name), pending };
}
