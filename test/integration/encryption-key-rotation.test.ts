// Rotating ENCRYPTION_KEY: a server on the new key with the old one in ENCRYPTION_KEY_PREVIOUS serves the data sealed
// under the old one, `secrets reseal` moves every value to the new key (also in the running server, as the admin
// socket runs it), the old key can then go, and a key that opens nothing stops the start with exit code 2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { runCommand, serverRuntime } from '../../src/cli/commands.ts';
import { createDb } from '../../src/db/knex.ts';
import { DEVELOPMENT_ENCRYPTION_KEY, findSecret } from '../../src/db/provider-secrets.ts';
import { SEALED_COLUMNS } from '../../src/db/sealed-values.ts';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { describeFatal, WrongKeyError } from '../../src/errors.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { cli, run } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { SIGNING_ALGS } from '../../src/oidc/keys.ts';
import { eventually } from '../helpers/eventually.ts';

/** A database's first start makes one signing key per algorithm. */
const KEYS = SIGNING_ALGS.length;

const newKey = () => randomBytes(32).toString('hex');

/** A sign-in through a real RP: the code is redeemed with the client's secret, the ID token verified against /jwks. Returns its kid. */
async function signInOnce(server: TestServer, client: StoredClient): Promise<string> {
  const rp = relyingParty(server);
  const { tokens } = await rp.signIn(client);
  await rp.verifyJwt(tokens.id_token!, client.client_id);
  return decodeProtectedHeader(tokens.id_token!).kid!;
}

/** Runs a CLI command line in a running server, as its admin socket does. */
async function inServer(server: TestServer, argv: string[]) {
  const result = await runCommand(argv, serverRuntime(server.ctx));
  assert.equal(result.exitCode, 0, result.stderr);
  return JSON.parse(result.stdout);
}

const resealed = (out: { tables: Array<{ table: string; resealed: number }> }) => Object.fromEntries(out.tables.map((t) => [t.table, t.resealed]));

describeEachDatabase('rotating ENCRYPTION_KEY', (backend) => {
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const db = await backend.create();
    dbs.push(db);
    return db;
  };
  after(() => Promise.all(dbs.map((db) => db.drop())));

  /** Starts a server on `db` with `env`, runs `fn`, closes it. */
  const withServer = async <T>(db: TestDatabase, env: Record<string, string>, fn: (server: TestServer) => Promise<T>): Promise<T> => {
    const server = await startTestServer(db, { env });
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  };

  it('serves data sealed under the previous key, re-seals it under the new one, and then runs on the new key alone', async () => {
    const db = await fresh();
    const [a, b] = [newKey(), newKey()];
    const { client, kid } = await withServer(db, { ENCRYPTION_KEY: a }, async (server) => {
      const client = await server.addClient();
      return { client, kid: await signInOnce(server, client) };
    });

    // The new key alone opens nothing: the start fails, naming the variable that would fix it, with exit code 2.
    const refused = await startTestServer(db, { env: { ENCRYPTION_KEY: b } }).then(
      (s) => (s.close(), undefined),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof WrongKeyError, String(refused));
    assert.equal(refused.code, 'wrong_encryption_key');
    assert.equal(refused.keyId, createSecretBox(Buffer.from(a, 'hex')).keyId);
    assert.match(describeFatal(refused).message, /ENCRYPTION_KEY_PREVIOUS/);
    assert.equal(describeFatal(refused).exitCode, 2);

    await withServer(db, { ENCRYPTION_KEY: b, ENCRYPTION_KEY_PREVIOUS: a }, async (server) => {
      // Same signing key, same client secret: both opened under the previous key.
      assert.equal(await signInOnce(server, client), kid);
      const before = await inServer(server, ['secrets', 'status', '--json']);
      assert.equal(before.pending, KEYS + 1, 'the signing keys (one per algorithm) and one client secret under the previous key');
      assert.deepEqual(resealed(await inServer(server, ['secrets', 'reseal', '--json'])), { signing_keys: KEYS, oidc_clients: 1 });
      assert.deepEqual(resealed(await inServer(server, ['secrets', 'reseal', '--json'])), { signing_keys: 0, oidc_clients: 0 }, 'idempotent');
      assert.equal((await inServer(server, ['secrets', 'status', '--json'])).pending, 0);
      // The running server keeps serving after the reseal under its feet.
      assert.equal(await signInOnce(server, client), kid);
    });

    await withServer(db, { ENCRYPTION_KEY: b }, async (server) => {
      assert.equal(await signInOnce(server, client), kid);
      // An instance left on the old key writes a client secret after the reseal: the signing keys open, that secret does not.
      await server.ctx
        .database!.knex('oidc_clients')
        .where({ client_id: client.client_id })
        .update({ secret_sealed: createSecretBox(Buffer.from(a, 'hex')).seal('written-by-a-stale-instance') });
    });
    // Found at start-up, not at that client's first token request.
    await assert.rejects(
      startTestServer(db, { env: { ENCRYPTION_KEY: b } }),
      (err) => err instanceof WrongKeyError && /ENCRYPTION_KEY_PREVIOUS/.test(err.message),
    );
  });

  it('moves a development database from its generated key to ENCRYPTION_KEY, then deletes the generated key', async () => {
    const db = await fresh();
    const b = newKey();
    const { client, kid } = await withServer(db, {}, async (server) => {
      const client = await server.addClient();
      return { client, kid: await signInOnce(server, client) };
    });
    // No ENCRYPTION_KEY_PREVIOUS: the key the database generated for itself is accepted as a previous one.
    await withServer(db, { ENCRYPTION_KEY: b }, async (server) => {
      assert.equal(await signInOnce(server, client), kid);
      const out = await inServer(server, ['secrets', 'reseal', '--json']);
      assert.deepEqual(resealed(out), { signing_keys: KEYS, oidc_clients: 1 });
      assert.equal(out.developmentKeyDropped, true);
      assert.equal(await findSecret(server.ctx.database!.knex, DEVELOPMENT_ENCRYPTION_KEY), undefined);
    });
    await withServer(db, { ENCRYPTION_KEY: b }, async (server) => assert.equal(await signInOnce(server, client), kid));
  });

  it('lists every sealed column of the schema, so a reseal leaves none behind', async () => {
    const db = await fresh();
    const k = createDb(db.database);
    try {
      const { rows } = await k.raw(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name LIKE '%\\_sealed' ORDER BY 1, 2",
      );
      const listed = SEALED_COLUMNS.map((c) => ({ table_name: c.table, column_name: c.column })).sort((x, y) => x.table_name.localeCompare(y.table_name));
      assert.deepEqual(rows, listed);
    } finally {
      await k.destroy();
    }
  });

  it('stops the server process with exit code 2 and a message naming ENCRYPTION_KEY_PREVIOUS when the data is under another key', async () => {
    const db = await fresh();
    const a = newKey();
    await withServer(db, { ENCRYPTION_KEY: a }, async (server) => void (await server.addClient()));
    const res = await run('src/main.ts', [], { ...db.env, ENCRYPTION_KEY: newKey(), PORT: '0', HOST: '127.0.0.1' });
    assert.equal(res.code, 2, res.stdout + res.stderr);
    assert.match(res.stderr, new RegExp(`sealed with key ${createSecretBox(Buffer.from(a, 'hex')).keyId}.*ENCRYPTION_KEY_PREVIOUS`));
  });

  it('reports and re-seals through the CLI process, in text, and shows a key it cannot open as unknown', async () => {
    const db = await fresh();
    const [a, b] = [newKey(), newKey()];
    const [idA, idB] = [a, b].map((k) => createSecretBox(Buffer.from(k, 'hex')).keyId);
    await withServer(db, { ENCRYPTION_KEY: a }, async (server) => void (await server.addClient()));
    const rotating = { ...db.env, ENCRYPTION_KEY: b, ENCRYPTION_KEY_PREVIOUS: a };

    // Read-only, so it answers even under a key that opens nothing: the operator sees which key the data needs.
    const lost = await cli(['secrets', 'status'], { ...db.env, ENCRYPTION_KEY: b });
    assert.equal(lost.code, 0, lost.stderr);
    assert.match(lost.stdout, new RegExp(`^oidc_clients\t${idA}\tunknown\t1$`, 'm'));

    const before = await cli(['secrets', 'status'], rotating);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, new RegExp(`^current key: +${idB} \\(ENCRYPTION_KEY\\)$`, 'm'));
    assert.match(before.stdout, new RegExp(`^previous keys: ${idA} \\(ENCRYPTION_KEY_PREVIOUS\\)$`, 'm'));
    assert.match(before.stdout, new RegExp(`^signing_keys\t${idA}\tprevious\t${KEYS}$`, 'm'));
    assert.match(before.stdout, new RegExp(`^${KEYS + 1} values are not under the current key`, 'm'));

    const reseal = await cli(['secrets', 'reseal'], rotating);
    assert.equal(reseal.code, 0, reseal.stderr);
    assert.equal(reseal.stdout, `signing_keys: ${KEYS} re-sealed, 0 already under ${idB}\noidc_clients: 1 re-sealed, 0 already under ${idB}\n`);
    const after = await cli(['secrets', 'status'], { ...db.env, ENCRYPTION_KEY: b });
    assert.match(after.stdout, /^every value is under the current key: previous keys can be dropped$/m);
  });

  // Two processes share only the database on Postgres (on PGlite the admin socket runs commands one at a time).
  if (backend.kind === 'postgres') {
    it('runs two reseals at once beside a secret rotation without losing or corrupting a value', async () => {
      const db = await fresh();
      const [a, b] = [newKey(), newKey()];
      const { client, kid } = await withServer(db, { ENCRYPTION_KEY: a }, async (server) => {
        const client = await server.addClient();
        return { client, kid: await signInOnce(server, client) };
      });
      const k = createDb(db.database);
      const trx = await k.transaction();
      let results: Awaited<ReturnType<typeof cli>>[];
      try {
        // This transaction holds the client's row, as `clients update --rotate-secret` on an instance already on the new key does.
        await trx('oidc_clients').where({ client_id: client.client_id }).forUpdate().first();
        const env = { ...db.env, ENCRYPTION_KEY: b, ENCRYPTION_KEY_PREVIOUS: a };
        const ended: string[] = [];
        const reseals = [0, 1].map((i) => cli(['secrets', 'reseal', '--json'], env).finally(() => ended.push(`reseal ${i} ended before waiting on a lock`)));
        // The signal: both wait on a row lock, one on this transaction's row, the other on the first one's rows.
        await eventually(
          'both reseals waiting on a lock',
          async () =>
            Number((await k.raw("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n) === 2
              ? true
              : undefined,
          { deadlineMs: 180_000, stop: () => ended[0] },
        );
        await trx('oidc_clients')
          .where({ client_id: client.client_id })
          .update({ secret_sealed: createSecretBox(Buffer.from(b, 'hex')).seal('rotated-secret') });
        await trx.commit();
        results = await Promise.all(reseals);
      } finally {
        // A failure above leaves the transaction open: end it, or destroy() would wait for its connection forever.
        if (!trx.isCompleted()) await trx.rollback();
        await k.destroy();
      }
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const counts = results.map((r) => resealed(JSON.parse(r.stdout)));
      // Each signing key was re-sealed once between them; the rotated secret, already under the new key, by neither.
      assert.equal(counts[0]!.signing_keys! + counts[1]!.signing_keys!, KEYS, JSON.stringify(counts));
      assert.equal(counts[0]!.oidc_clients! + counts[1]!.oidc_clients!, 0, JSON.stringify(counts));
      await withServer(db, { ENCRYPTION_KEY: b }, async (server) => {
        assert.equal((await server.ctx.stores.clients.find(client.client_id))?.client_secret, 'rotated-secret', 'the rotation was not overwritten');
        assert.equal(await signInOnce(server, { ...client, client_secret: 'rotated-secret' }), kid);
      });
    });
  }
});
