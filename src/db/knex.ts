// The knex factory: Postgres through pg, or the embedded PGlite (same SQL, same migrations).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type { Config } from '../config/index.ts';
import type { Logger } from '../logger.ts';
import { EXIT, WalletOidcError } from '../errors.ts';
import { currentRequest } from '../request-context.ts';
import * as createSchema from '../../migrations/20261122000000_create_schema.ts';
import * as rateLimits from '../../migrations/20261203000000_rate_limits.ts';
import * as hashTokenIds from '../../migrations/20261203000100_hash_token_ids.ts';
import * as changeFeed from '../../migrations/20261203000200_change_feed_disabled_accounts.ts';
import * as stageSigningKeys from '../../migrations/20261203000300_stage_signing_keys.ts';
import * as ensNames from '../../migrations/20261203000400_ens_names.ts';
import * as loginHandoffs from '../../migrations/20261203000500_login_handoffs.ts';
import { classifyDatabaseError } from './unavailable.ts';

export type Db = Knex;

// Migrations are imported, not globbed from disk, so they load the same under tsx and in a bundle.
const MIGRATIONS: Record<string, Knex.Migration> = {
  '20261122000000_create_schema': createSchema,
  '20261203000000_rate_limits': rateLimits,
  '20261203000100_hash_token_ids': hashTokenIds,
  '20261203000200_change_feed_disabled_accounts': changeFeed,
  '20261203000300_stage_signing_keys': stageSigningKeys,
  '20261203000400_ens_names': ensNames,
  '20261203000500_login_handoffs': loginHandoffs,
};

/** Every migration this version knows, oldest first. */
export const MIGRATION_NAMES = Object.keys(MIGRATIONS).sort();

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATION_NAMES,
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

type PgConnection = { __knex__disposed?: unknown };
type PgClientClass = new (config: Knex.Config) => {
  query(connection: PgConnection, query: unknown): Promise<unknown>;
  acquireConnection(): Promise<unknown>;
};
const PgDialect = createRequire(import.meta.url)('knex/lib/dialects/postgres/index.js') as PgClientClass;

/**
 * knex's pg client, with every error of an unreachable or silent database turned into a
 * DatabaseUnavailableError (db/unavailable.ts), so each caller can answer 503 instead of 500.
 */
class PgClient extends PgDialect {
  override async query(connection: PgConnection, query: unknown): Promise<unknown> {
    try {
      return await super.query(connection, query);
    } catch (err) {
      throw classifyDatabaseError(disposeIfTimedOut(connection, err));
    }
  }

  override async acquireConnection(): Promise<unknown> {
    try {
      return await super.acquireConnection();
    } catch (err) {
      throw classifyDatabaseError(err);
    }
  }
}

/**
 * A statement that timed out (pg's query_timeout) may still be running on a connection nobody hears
 * from: knex's own flag for a broken connection makes the pool drop it instead of handing it out again.
 */
export function disposeIfTimedOut(connection: unknown, err: unknown): unknown {
  if (err instanceof Error && err.message === 'Query read timeout' && connection && typeof connection === 'object') {
    (connection as PgConnection).__knex__disposed = err;
  }
  return err;
}

/**
 * The pool fails fast and heals by itself: connecting, waiting for a free connection and every
 * statement are bounded by DATABASE_TIMEOUT (a silent server answers 503 in seconds, not after
 * knex's 60 s or TCP's minutes); TCP keepalive finds idle connections whose server vanished;
 * knex discards connections that errored or ended, and opens new ones on demand (min 0).
 */
export function createDb(database: Config['database'], logger?: Logger): Db {
  // knex prints its pool's warnings (a dropped connection, a failed connect) with console.log; they belong in the JSON log.
  // One line, no stack. Inside a request the request's own answer reports the outage (a 503 with its
  // reason, /readyz's `not ready`), so the pool's line is debug there: one line per expected failure.
  const warn = (message: unknown) => {
    const knexMessage = String(message).split('\n', 1)[0];
    if (currentRequest()) logger!.debug({ knex: knexMessage }, 'database connection problem');
    else logger!.warn({ knex: knexMessage }, 'database connection problem');
  };
  const log = logger && {
    warn,
    error: (message: unknown) => logger.error({ knex: String(message) }, 'database connection error'),
    deprecate: (message: unknown) => logger.warn({ knex: String(message) }, 'knex deprecation'),
    debug: () => {},
  };
  if (database.kind === 'postgres') {
    const timeoutMs = database.timeoutSeconds * 1000;
    return knex({
      ...(log ? { log } : {}),
      client: PgClient as unknown as typeof knex.Client,
      connection: {
        connectionString: database.url,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      },
      acquireConnectionTimeout: timeoutMs,
      pool: { min: 0, max: database.poolMax, idleTimeoutMillis: 30_000 },
    });
  }
  fs.mkdirSync(database.dataDir, { recursive: true });
  return knex({
    client: PgliteClient as unknown as typeof knex.Client,
    dialect: 'postgres',
    connection: { filename: path.resolve(database.dataDir, 'pglite') } as Knex.StaticConnectionConfig,
  });
}

/**
 * Migrations only go forward: a database that a newer wallet-oidc migrated holds migrations this version does not
 * know, and this version must not run on it (it would read tables it does not understand). Said plainly, instead of
 * knex's "the migration directory is corrupt".
 */
export async function refuseNewerDatabase(db: Db): Promise<void> {
  const unknown = await unknownMigrations(db);
  if (unknown.length) {
    throw new WalletOidcError(
      'database_newer',
      `the database was migrated by a newer wallet-oidc (unknown migrations: ${unknown.join(', ')}); run that version or newer: migrations only go forward`,
      { exitCode: EXIT.usage },
    );
  }
}

/** Applies pending migrations (only those up to `to`, when given: tests of a migration's data); returns the names applied. */
export async function migrate(db: Db, opts: { to?: string } = {}): Promise<string[]> {
  await refuseNewerDatabase(db);
  if (opts.to === undefined) {
    const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  }
  const { pending } = await migrationStatus(db);
  const applied: string[] = [];
  for (const name of pending.filter((n) => n <= opts.to!)) {
    await db.migrate.up({ migrationSource, name });
    applied.push(name);
  }
  return applied;
}

/** Migrations the database has applied that this version does not know (a newer version ran); oldest first. */
export async function unknownMigrations(db: Db): Promise<string[]> {
  if (!(await db.schema.hasTable('knex_migrations'))) return [];
  const applied: Array<{ name: string }> = await db('knex_migrations').select('name').orderBy('id');
  return applied.map((m) => m.name).filter((name) => !(name in MIGRATIONS));
}

/**
 * What is applied and what is pending. A running instance's readiness reads it too, and an instance already running when
 * a newer version migrates keeps serving (a rolling upgrade): only starting this version on that database is refused.
 */
export async function migrationStatus(db: Db): Promise<{ done: string[]; pending: string[] }> {
  // Without knex's validation, which throws on a migration it does not know (see unknownMigrations).
  const [done, pending] = (await db.migrate.list({ migrationSource, disableMigrationsListValidation: true })) as [{ name: string }[], string[]];
  return { done: done.map((m) => m.name), pending };
}
