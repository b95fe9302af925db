// CLI changes reach every running instance: two servers on one Postgres, a change made by the CLI process (or by
// another instance: clients, accounts, signing keys), seen by the other one. With the poll set to an hour, only LISTEN/NOTIFY can bring it
// promptly; with a notification that never came, the poll does; after the LISTEN connection is killed, it comes back.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { APPLICATION_NAME } from '../../src/db/changes.ts';
import { createDb } from '../../src/db/knex.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describeOnPostgres, type TestDatabase } from '../helpers/db.ts';
import { eventually } from '../helpers/eventually.ts';
import { createAgent } from '../helpers/login.ts';
import { cli } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.ts';

const OTHER_URI = 'https://rp.example.com/other-callback';
/** Caches that outlive any test: only an announcement can make a server forget what it keeps. */
const LONG = { CLIENT_CACHE_TTL: '3600', CHANGE_POLL_INTERVAL: '3600', AUTHORIZATION_RATE_LIMIT: '0' };

describeOnPostgres('the change feed', {}, (backend) => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let admin: ReturnType<typeof createDb>;

  before(async () => {
    db = await backend.create();
    admin = createDb(db.database);
    [a, b] = [await startTestServer(db, { env: LONG }), await startTestServer(db, { env: LONG })];
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await admin?.destroy();
    await db?.drop();
  });

  /** What `server` answers /auth for the client and `redirectUri`: `login` (a redirect to a login), or the error its page names. */
  const answer = async (server: TestServer, client: StoredClient, redirectUri: string) => {
    const url = relyingParty(server).authorization(client, { redirect_uri: redirectUri }).url;
    const res = await createAgent(server.issuer).fetch(url, { redirect: 'manual' });
    if (res.status === 303 && /\/interaction\//.test(res.headers.get('location') ?? '')) return 'login';
    const error = (await res.text()).match(/<code>([a-z_]+)<\/code>/)?.[1];
    if (res.status !== 400 || !error) throw new Error(`unexpected answer ${res.status} ${error}`);
    return error;
  };
  const accepts = async (server: TestServer, client: StoredClient, redirectUri: string) => (await answer(server, client, redirectUri)) === 'login';
  /** A client that `server` has looked up, so it sits in that server's cache. */
  const cachedClient = async (server: TestServer) => {
    const client = await a.addClient();
    assert.equal(await accepts(server, client, REDIRECT_URI), true);
    assert.equal(await answer(server, client, OTHER_URI), 'invalid_redirect_uri');
    return client;
  };
  const listeners = async () =>
    Number(
      (
        (await admin.raw('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()', [APPLICATION_NAME]))
          .rows as { n: string }[]
      )[0]!.n,
    );

  it('brings a `clients update` from the CLI process to a running server at once, through LISTEN/NOTIFY', async () => {
    const client = await cachedClient(b);
    const res = await cli(['clients', 'update', client.client_id, '--redirect-uri', REDIRECT_URI, '--redirect-uri', OTHER_URI], db.env);
    assert.equal(res.code, 0, res.stderr);
    await eventually('server B accepts the new redirect URI', async () => ((await accepts(b, client, OTHER_URI)) ? true : undefined));
    assert.equal(await accepts(a, client, OTHER_URI), true);
  });

  it('ends a removed client on the other instance', async () => {
    const client = await cachedClient(b);
    const res = await cli(['clients', 'remove', client.client_id], db.env);
    assert.equal(res.code, 0, res.stderr);
    await eventually('server B forgets the removed client', async () => ((await answer(b, client, REDIRECT_URI)) === 'invalid_client' ? true : undefined));
  });

  it('makes every instance forget a disabled account, announced in the transaction that disables it', async () => {
    const client = await a.addClient();
    const { wallet } = await relyingParty(b).signIn(client);
    const heard: (string | undefined)[] = [];
    const stop = b.ctx.changes.on('accounts', (sub) => heard.push(sub));
    try {
      const res = await cli(['accounts', 'disable', wallet.address.toLowerCase(), '--reason', 'lost key'], db.env);
      assert.equal(res.code, 0, res.stderr);
      await eventually('server B hears of the disabled account', async () => (heard.includes(wallet.address) ? true : undefined));
    } finally {
      stop();
    }
  });

  it('brings `keys rotate`, `activate` and `retire` from the CLI process to both servers: /jwks and the signing key follow', async () => {
    const kids = async (server: TestServer) => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const signingRs256 = (server: TestServer) => server.ctx.keys.current().keys.find((k) => k.alg === 'RS256' && k.state === 'active')!.kid;
    const before = await kids(b);
    const rotated = await cli(['keys', 'rotate', '--json'], db.env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const added = (JSON.parse(rotated.stdout) as { kid: string; alg: string }[]).map((k) => k.kid);
    for (const server of [a, b]) {
      await eventually('the pending keys are published', async () => ((await kids(server)).length === before.length + added.length ? true : undefined));
      assert.ok(added.every((kid) => server.ctx.keys.current().keys.some((k) => k.kid === kid && k.state === 'pending')));
    }
    const newRs256 = (JSON.parse(rotated.stdout) as { kid: string; alg: string }[]).find((k) => k.alg === 'RS256')!.kid;
    assert.equal((await cli(['keys', 'activate'], db.env)).code, 0);
    for (const server of [a, b]) await eventually('the new key signs', async () => (signingRs256(server) === newRs256 ? true : undefined));
    const old = before.find((kid) => !added.includes(kid) && b.ctx.keys.current().keys.some((k) => k.kid === kid && k.alg === 'RS256'))!;
    assert.equal((await cli(['keys', 'retire', old], db.env)).code, 0);
    for (const server of [a, b]) await eventually('the retired key leaves /jwks', async () => (!(await kids(server)).includes(old) ? true : undefined));
  });

  it('listens again after its LISTEN connection is killed, and hears the next change', async () => {
    assert.equal(await listeners(), 2);
    await admin.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()', [APPLICATION_NAME]);
    const client = await cachedClient(b);
    // Announced while B may still be reconnecting: either its reconnection reads it, or the notification brings it.
    const res = await cli(['clients', 'update', client.client_id, '--redirect-uri', OTHER_URI], db.env);
    assert.equal(res.code, 0, res.stderr);
    await eventually('both servers listen again', async () => ((await listeners()) === 2 ? true : undefined));
    await eventually('server B accepts the new redirect URI', async () => ((await accepts(b, client, OTHER_URI)) ? true : undefined));
  });
});

describeOnPostgres('the change feed without a notification', {}, (backend) => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    db = await backend.create();
    a = await startTestServer(db, { env: { CLIENT_CACHE_TTL: '3600', AUTHORIZATION_RATE_LIMIT: '0' } });
    b = await startTestServer(db, { env: { CLIENT_CACHE_TTL: '3600', CHANGE_POLL_INTERVAL: '1', AUTHORIZATION_RATE_LIMIT: '0' } });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('catches up by polling `config_changes` when no NOTIFY came', async () => {
    const client = await a.addClient();
    const { issuer } = b;
    const auth = (redirectUri: string) => relyingParty(b).authorization(client, { redirect_uri: redirectUri }).url;
    const accepts = async (redirectUri: string) => (await createAgent(issuer).fetch(auth(redirectUri), { redirect: 'manual' })).status === 303;
    assert.equal(await accepts(REDIRECT_URI), true);
    await a.ctx.stores.clients.save({ ...client, redirect_uris: [OTHER_URI] });
    // The row alone, as a lost notification leaves it: only the poll can find it.
    await a.ctx.database!.knex('config_changes').insert({ kind: 'clients', key: client.client_id });
    await eventually('server B accepts the new redirect URI', async () => ((await accepts(OTHER_URI)) ? true : undefined));
    assert.equal(await accepts(REDIRECT_URI), false);
  });
});
