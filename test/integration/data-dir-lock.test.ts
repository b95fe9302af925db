// One process per PGlite data directory: a second server refuses to start, naming the first; a killed server's
// lock is taken over at once; and the CLI, run while the server runs, has the server run its command, losing nothing.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { lockDataDir } from '../../src/admin/data-dir-lock.ts';
import { MAX_LINE_BYTES } from '../../src/admin/protocol.ts';
import { sendCommand } from '../../src/admin/send-command.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createPgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { cli, freePort, run, spawnEntry, startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI } from '../helpers/server.ts';

describe('a PGlite data directory', () => {
  const dbs: TestDatabase[] = [];
  const servers: ServerProcess[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await Promise.all(dbs.map((db) => db.drop()));
  });

  const fresh = async () => {
    const db = await createPgliteDatabase();
    dbs.push(db);
    return db;
  };

  const startServer = async (db: TestDatabase) => {
    const server = await startServerProcess(db.env);
    servers.push(server);
    return server;
  };

  /** A second `npm start` on the directory, run to its end. */
  const startAnother = async (db: TestDatabase) => run('src/main.ts', [], { ...db.env, PORT: String(await freePort()), HOST: '127.0.0.1' });

  /** A CLI command whose --json answer is parsed; it must succeed. */
  const cliJson = async <T>(db: TestDatabase, args: string[]): Promise<T> => {
    const res = await cli([...args, '--json'], db.env);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return JSON.parse(res.stdout) as T;
  };

  const addClient = (db: TestDatabase, name: string) => cliJson<StoredClient>(db, ['clients', 'add', '--name', name, '--redirect-uri', REDIRECT_URI]);

  it('refuses a second server, naming the first, which keeps serving; the socket is for its owner only', async () => {
    const db = await fresh();
    const first = await startServer(db);
    const second = await startAnother(db);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`DATA_DIR .+ is in use by another wallet-oidc process \\(pid ${first.child.pid} on `));
    assert.match(second.stderr, /stop that process first, or give this one another DATA_DIR/);
    assert.equal((await fetch(`${first.issuer}/healthz`)).status, 200);

    const admin = path.join(db.env.DATA_DIR!, 'admin');
    assert.equal(fs.statSync(admin).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(admin, 'socket')).mode & 0o777, 0o600);
    assert.equal(await first.stop(), 0);
    assert.equal(fs.existsSync(path.join(admin, 'socket')), false, 'a clean stop removes the socket');
  });

  it("takes over a killed server's lock at once", async () => {
    const db = await fresh();
    const killed = await startServer(db);
    killed.child.kill('SIGKILL');
    await killed.stop();
    assert.ok(fs.existsSync(path.join(db.env.DATA_DIR!, 'admin', 'socket')), 'the killed server left its socket behind');
    const next = await startServer(db);
    assert.equal(await next.stop(), 0);
  });

  it('runs CLI commands in the running server, which serves their changes at once, and loses nothing', async () => {
    const db = await fresh();
    const server = await startServer(db);
    const client = await addClient(db, 'Added while running');
    assert.ok(client.client_secret);
    // A login with the new client, and the code redeemed with its secret.
    const rp = relyingParty({ issuer: server.issuer });
    const { tokens } = await rp.signIn(client);
    assert.ok(tokens.id_token);

    const doomed = await addClient(db, 'Removed while running');
    const listed = await cliJson<StoredClient[]>(db, ['clients', 'list']);
    assert.deepEqual(listed.map((c) => c.client_name).sort(), ['Added while running', 'Removed while running']);
    const shownThroughServer = await cli(['clients', 'show', client.client_id, '--json'], db.env);
    assert.equal((await cli(['clients', 'remove', doomed.client_id], db.env)).code, 0);
    const unknownThroughServer = await cli(['clients', 'remove', doomed.client_id], db.env);
    assert.equal(unknownThroughServer.code, 2);
    const rotate = await cli(['keys', 'rotate'], db.env);
    assert.equal(rotate.code, 0, rotate.stderr);
    const newKid = rotate.stdout.match(/^published\t(\S+)\tRS256\tpending\t/m)?.[1];
    assert.ok(newKid, rotate.stdout);
    // Run inside the server, the rotation applies at once: the server publishes the pending key without a restart.
    const published = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    assert.ok(
      published.keys.some((k) => k.kid === newKid),
      'the running server publishes the pending key',
    );
    assert.equal(await server.stop(), 0);

    // Stopped: the CLI opens the directory itself, and finds everything; its answers are the ones the server gave.
    const shownDirectly = await cli(['clients', 'show', client.client_id, '--json'], db.env);
    assert.equal(shownDirectly.code, 0, shownDirectly.stderr);
    assert.equal(shownDirectly.stdout, shownThroughServer.stdout);
    const unknownDirectly = await cli(['clients', 'remove', doomed.client_id], db.env);
    assert.equal(unknownDirectly.code, unknownThroughServer.code);
    assert.equal(unknownDirectly.stdout, unknownThroughServer.stdout);
    assert.equal(unknownDirectly.stderr.match(/^wallet-oidc: .*$/m)?.[0], unknownThroughServer.stderr.match(/^wallet-oidc: .*$/m)?.[0]);
    const keys = await cli(['keys', 'list'], db.env);
    assert.match(keys.stdout, new RegExp(`^${newKid}\tRS256\tpending\t[^\n]+\n[^\t]+\tRS256\tactive\t`));

    const restarted = await startServer(db);
    const jwks = (await (await fetch(`${restarted.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    assert.ok(
      jwks.keys.some((k) => k.kid === newKid),
      'the pending key is still published',
    );
    const again = await relyingParty({ issuer: restarted.issuer }).signIn(client);
    assert.ok(again.tokens.id_token, 'the client and its secret survived');
    assert.deepEqual(
      (await cliJson<StoredClient[]>(db, ['clients', 'list'])).map((c) => c.client_id),
      [client.client_id],
    );
    assert.equal(await restarted.stop(), 0);
  });

  it('refuses a server while a CLI command holds the directory, and makes another CLI command wait for it', async () => {
    const db = await fresh();
    // This test process holds the directory as a CLI command running directly would.
    const lock = await lockDataDir(db.env.DATA_DIR!);
    let released = false;
    try {
      const server = await startAnother(db);
      assert.equal(server.code, 2, server.stderr);
      assert.match(server.stderr, new RegExp(`is in use by another wallet-oidc process \\(pid ${process.pid} on `));

      const waiting = spawnEntry('src/cli/index.ts', ['clients', 'list'], db.env);
      let stdout = '';
      let stderr = '';
      (waiting.stdout as Readable).on('data', (d) => (stdout += d));
      const exited = once(waiting, 'exit') as Promise<[number | null]>;
      await new Promise<void>((resolve, reject) => {
        (waiting.stderr as Readable).on('data', (d) => {
          stderr += d;
          if (stderr.includes(`waiting for pid ${process.pid} `)) resolve();
        });
        void exited.then(() => reject(new Error(`the CLI ended without waiting:\n${stdout}${stderr}`)));
      });
      await lock.release();
      released = true;
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.equal(stdout, 'no clients\n');
    } finally {
      if (!released) await lock.release();
    }
  });
});

describe('the admin socket', () => {
  /** A directory locked by this process, serving commands by echoing their arguments. */
  const setup = async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-oidc-admin-'));
    fs.mkdirSync(path.join(dataDir, 'admin'), { mode: 0o777 });
    fs.chmodSync(path.join(dataDir, 'admin'), 0o777);
    const lock = await lockDataDir(dataDir);
    const ran: string[] = [];
    lock.serve(async (argv) => {
      ran.push(argv.join(' '));
      return { stdout: argv.join(' '), stderr: '', exitCode: 0 };
    });
    /** What the socket answers a raw request: the lines it sent before closing. */
    const raw = (request: string) =>
      new Promise<string>((resolve) => {
        let answer = '';
        const socket = net.connect(lock.socketPath, () => socket.end(request));
        socket.on('data', (d) => (answer += d));
        socket.on('error', () => {}); // the server may cut the connection while the request is still being written
        socket.on('close', () => resolve(answer));
      });
    return {
      dataDir,
      lock,
      raw,
      ran,
      async close() {
        await lock.release();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };

  it('narrows a wider admin directory to its owner, and answers one well-formed command a connection', async () => {
    const { dataDir, raw, ran, close } = await setup();
    try {
      assert.equal(fs.statSync(path.join(dataDir, 'admin')).mode & 0o777, 0o700);
      assert.deepEqual(await sendCommand(dataDir, ['clients', 'list'], () => assert.fail('not queued')), { stdout: 'clients list', stderr: '', exitCode: 0 });
      assert.equal(await raw('not json\n'), '');
      assert.equal(await raw('{"argv":[1]}\n'), '');
      assert.equal(await raw(`{"argv":["${'x'.repeat(MAX_LINE_BYTES)}`), '', 'an endless line is cut off, not buffered');
      await raw('{"argv":["first"]}\n{"argv":["second"]}\n');
      assert.ok(!ran.includes('second'), 'a second command on one connection ends it, unrun');
      assert.equal((await sendCommand(dataDir, ['still', 'serving'], () => {}))?.stdout, 'still serving');
      assert.deepEqual(ran, ['clients list', 'first', 'still serving']);
    } finally {
      await close();
    }
  });
});
