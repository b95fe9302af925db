// Test databases: a fresh PGlite directory, and (when TEST_DATABASE_URL is set) a fresh Postgres database.
import { cpSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import knex from 'knex';
import type { Config } from '../../src/config/index.ts';
import { createDb, migrate } from '../../src/db/knex.ts';
import { pgliteTemplate } from './pglite-template.ts';

export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** What loadConfig would produce for this database. */
  database: Config['database'];
  /** Environment variables selecting it, for loadConfig or a child process. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export interface DatabaseOptions {
  /** No tables yet, as the first start finds it: nothing migrated. By default every migration is applied. */
  empty?: boolean;
}

/** A new data directory, copied from the template (./pglite-template.ts) instead of initialized from nothing. */
export async function createPgliteDatabase(opts: DatabaseOptions = {}): Promise<TestDatabase> {
  const template = await pgliteTemplate();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wallet-oidc-test-'));
  // Synchronous: a third of fs.promises.cp's CPU time for the template's thousand small files.
  cpSync(opts.empty ? template.empty : template.migrated, dataDir, { recursive: true });
  return {
    kind: 'pglite',
    database: { kind: 'pglite', dataDir },
    env: { DATA_DIR: dataDir },
    drop: () => fs.rm(dataDir, { recursive: true, force: true }),
  };
}

/** Creates a database on the server TEST_DATABASE_URL names, so runs never see each other's data. */
export async function createPostgresDatabase(baseUrl: string, opts: DatabaseOptions = {}): Promise<TestDatabase> {
  const name = `wallet_oidc_test_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    const a = knex({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
    try {
      await a.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await a.destroy();
    }
  };
  const database: Config['database'] = { kind: 'postgres', url: url.href, poolMax: 10, timeoutSeconds: 5 };
  if (!opts.empty) {
    // Migrated like the PGlite template. About 0.1 s: copying a migrated template database (CREATE DATABASE ...
    // TEMPLATE) would save that, but needs one kept on the server that nothing may be connected to while it is copied.
    const db = createDb(database);
    try {
      await migrate(db);
    } catch (err) {
      await db.destroy();
      await drop();
      throw err;
    }
    await db.destroy();
  }
  return { kind: 'postgres', database, env: { DATABASE_URL: url.href }, drop };
}

export type Backend = { kind: TestDatabase['kind']; create: (opts?: DatabaseOptions) => Promise<TestDatabase> };

type Suite = (backend: Backend) => void;
type SuiteOptions = { concurrency?: number };

/**
 * The databases a suite runs on: PGlite always; Postgres when TEST_DATABASE_URL is set. Under
 * CI=true a missing Postgres is a failure, never a silent skip. Options are node:test's describe
 * options for each suite (tests that run at once need databases of their own).
 */
export function describeEachDatabase(title: string, options: SuiteOptions, fn: Suite): void;
export function describeEachDatabase(title: string, fn: Suite): void;
export function describeEachDatabase(title: string, ...args: [Suite] | [SuiteOptions, Suite]): void {
  const [options, fn] = args.length === 1 ? [{}, args[0]] : args;
  describe(`${title} (PGlite)`, options, () => fn({ kind: 'pglite', create: (opts) => createPgliteDatabase(opts) }));
  describeOnPostgres(title, options, fn);
}

/**
 * A suite that needs Postgres itself (several processes or instances on one database): runs when
 * TEST_DATABASE_URL is set, fails under CI=true without it, and is skipped with a message otherwise.
 */
export function describeOnPostgres(title: string, options: SuiteOptions, fn: Suite): void {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    describe(`${title} (Postgres)`, options, () => fn({ kind: 'postgres', create: (opts) => createPostgresDatabase(url, opts) }));
  } else if (process.env.CI === 'true') {
    describe(`${title} (Postgres)`, () => {
      it('needs TEST_DATABASE_URL', () => {
        throw new Error('TEST_DATABASE_URL is not set: under CI=true the Postgres suite must run (see .ci/run)');
      });
    });
  } else {
    describe(`${title} (Postgres)`, { skip: 'TEST_DATABASE_URL is not set: set it to a Postgres server URL to run this suite on Postgres' }, () => {});
  }
}
