// A rolling upgrade as instances see it: one already running keeps serving (ready) when a newer version migrates the
// database under it, and says so when a migration it knows is missing. (Starting this version on a database a newer
// one migrated is refused: test/integration/cli.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDb, MIGRATION_NAMES, type Db } from '../../src/db/knex.ts';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const baseUrl = process.env.TEST_DATABASE_URL;
describe('readiness across an upgrade (Postgres)', { skip: baseUrl || process.env.CI === 'true' ? false : 'TEST_DATABASE_URL is not set' }, () => {
  let db: TestDatabase;
  let server: TestServer;
  let knex: Db;
  before(async () => {
    assert.ok(baseUrl, 'under CI=true the Postgres suite must run');
    db = await createPostgresDatabase(baseUrl);
    server = await startTestServer(db);
    knex = createDb(db.database);
  });
  after(async () => {
    await knex?.destroy();
    await server?.close();
    await db?.drop();
  });

  const readiness = async () => {
    const res = await fetch(`${server.issuer}/readyz`);
    return { status: res.status, body: await res.json() };
  };

  it('stays ready when a newer version applies a migration this one does not know', async () => {
    assert.equal((await readiness()).status, 200);
    await knex('knex_migrations').insert({ name: '29991231000000_from_a_newer_version', batch: 99, migration_time: new Date() });
    assert.deepEqual(await readiness(), { status: 200, body: { status: 'ok' } });
  });

  it('answers 503 migrations_pending when a migration it knows is not applied', async () => {
    const last = MIGRATION_NAMES.at(-1)!;
    await knex('knex_migrations').where({ name: last }).delete();
    try {
      assert.deepEqual(await readiness(), { status: 503, body: { status: 'unavailable', error: 'migrations_pending' } });
    } finally {
      await knex('knex_migrations').insert({ name: last, batch: 1, migration_time: new Date() });
    }
    assert.equal((await readiness()).status, 200);
  });
});
