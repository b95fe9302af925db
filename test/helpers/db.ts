// Test databases: a fresh PGlite directory, and (when TEST_DATABASE_URL is set) a fresh Postgres database.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import knex from 'knex';
import type { Config } from '../../src/config/index.ts';

export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** What loadConfig would produce for this database. */
  database: Config['database'];
  /** Environment variables selecting it, for loadConfig or a child process. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function createPgliteDatabase(): Promise<TestDatabase> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wallet-oidc-test-'));
  return {
    kind: 'pglite',
    database: { kind: 'pglite', dataDir },
    env: { DATA_DIR: dataDir },
    drop: () => fs.rm(dataDir, { recursive: true, force: true }),
  };
}

/** Creates an empty database on the server TEST_DATABASE_URL names, so runs never see each other's data. */
export async function createPostgresDatabase(baseUrl: string): Promise<TestDatabase> {
  const name = `wallet_oidc_test_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    kind: 'postgres',
    database: { kind: 'postgres', url: url.href, poolMax: 10 },
    env: { DATABASE_URL: url.href },
    async drop() {
      const a = knex({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
      try {
        await a.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.destroy();
      }
    },
  };
}

type Backend = { kind: TestDatabase['kind']; create: () => Promise<TestDatabase> };

/**
 * The databases a suite runs on: PGlite always; Postgres when TEST_DATABASE_URL is set. Under
 * CI=true a missing Postgres is a failure, never a silent skip.
 */
export function describeEachDatabase(title: string, fn: (backend: Backend) => void): void {
  describe(`${title} (PGlite)`, () => fn({ kind: 'pglite', create: createPgliteDatabase }));
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    describe(`${title} (Postgres)`, () => fn({ kind: 'postgres', create: () => createPostgresDatabase(url) }));
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
