// Postgres goes away under a running server (a TCP proxy between them is cut) and comes back: every
// answer in between is a 503 with Retry-After and a stable code, never a 500; afterwards the same
// server signs people in again, and nothing written before the outage is lost. PGlite runs in the
// server's own process and cannot go away, so this suite runs on Postgres only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, followToClient, postJson, requestChallenge, startLogin, verify, type Agent } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const baseUrl = process.env.TEST_DATABASE_URL;

function setup() {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  let client: StoredClient;
  before(async () => {
    db = await createPostgresDatabase(baseUrl!);
    const target = new URL(db.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    // No client cache: every request asks the database, as it does once the cache has expired.
    server = await startTestServer(db, { env: { DATABASE_URL: proxy.via(db.env.DATABASE_URL!), CLIENT_CACHE_TTL: '0' } });
    client = await server.addClient({ client_name: 'Outage RP' });
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
    await db?.drop();
  });

  /** Waits until /readyz answers 200: a signal, polled a bounded number of times, not a fixed sleep. */
  const healthy = async () => {
    for (let attempt = 0; attempt < 200; attempt++) {
      if ((await fetch(`${server.issuer}/readyz`)).status === 200) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.fail('/readyz never answered 200 after Postgres came back');
  };
  return { server: () => server, proxy: () => proxy, client: () => client, healthy };
}

/** One answer during the outage: its status, Retry-After, and the error code its body names. */
async function answer(res: Response): Promise<{ status: number; retryAfter: string | null; error: string | undefined; type: string | null }> {
  const text = await res.text();
  const type = res.headers.get('content-type');
  const error = type?.includes('json') ? ((JSON.parse(text) as { error?: string }).error ?? undefined) : text.match(/<code>([a-z_]+)<\/code>/)?.[1];
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error, type };
}

if (!baseUrl) {
  describe('a database outage (Postgres)', { skip: process.env.CI === 'true' ? false : 'TEST_DATABASE_URL is not set' }, () => {
    it('needs TEST_DATABASE_URL', () => assert.fail('TEST_DATABASE_URL is not set: under CI=true the Postgres suite must run (see .ci/run)'));
  });
} else {
  describe('a database outage (Postgres)', () => {
    const t = setup();

    it('answers 503 with Retry-After on every route while Postgres is away, then signs people in again without a restart', async () => {
      const server = t.server();
      const client = t.client();
      const rp = relyingParty(server);
      // Before: three people signed in, each with a session in their browser and tokens at the RP.
      const before = await Promise.all([0, 1, 2].map(() => rp.signIn(client)));
      // A fourth is half-way: a signed challenge, not yet sent.
      const halfway = createAgent(server.issuer);
      const wallet = Wallet.createRandom();
      const uid = await startLogin(halfway, rp.authorization(client).url);
      const { message } = await requestChallenge(halfway, uid, wallet.address);
      const signature = await wallet.signMessage(message);

      await t.proxy().stop();
      const html = { accept: 'text/html' };
      const [first] = before;
      const answers = {
        readyz: await answer(await fetch(`${server.issuer}/readyz`)),
        authorization: await answer(await createAgent(server.issuer).fetch(rp.authorization(client).url, { redirect: 'manual', headers: html })),
        authorizationWithSession: await answer(await first!.agent.fetch(rp.authorization(client).url, { redirect: 'manual', headers: html })),
        loginPage: await answer(await halfway.fetch(`${server.issuer}/interaction/${uid}`, { headers: html })),
        challenge: await answer(
          await halfway.fetch(`${server.issuer}/interaction/${uid}/challenge`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ address: wallet.address, chainId: 1 }),
          }),
        ),
        token: await answer(
          await fetch(`${server.issuer}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'authorization_code',
              code: 'x',
              redirect_uri: 'https://rp.example.com/callback',
              client_id: client.client_id,
              client_secret: client.client_secret!,
            }),
          }),
        ),
        userinfo: await answer(await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${first!.tokens.access_token}` } })),
        introspection: await answer(
          await fetch(`${server.issuer}/token/introspection`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token: first!.tokens.access_token!, client_id: client.client_id, client_secret: client.client_secret! }),
          }),
        ),
        logout: await answer(await first!.agent.fetch(`${server.issuer}/session/end?client_id=${client.client_id}`, { redirect: 'manual', headers: html })),
      };
      const verified = await verify(halfway, uid, message, signature);

      for (const [route, a] of Object.entries(answers)) {
        assert.equal(a.status, 503, `${route}: ${JSON.stringify(a)}`);
        assert.equal(a.retryAfter, '5', `${route} says when to come back`);
      }
      assert.equal(answers.readyz.error, 'database_unreachable');
      assert.equal(answers.challenge.error, 'database_unavailable');
      assert.equal(answers.loginPage.error, 'database_unavailable');
      for (const route of ['authorization', 'authorizationWithSession', 'token', 'userinfo', 'introspection', 'logout'] as const) {
        assert.equal(answers[route].error, 'temporarily_unavailable', route);
      }
      assert.equal(answers.authorization.type, 'text/html; charset=utf-8', 'a browser gets a page');
      assert.equal(answers.token.type, 'application/json; charset=utf-8', 'an RP gets JSON');
      assert.equal(verified.status, 503);
      assert.equal(verified.body.error, 'database_unavailable');

      await t.proxy().start();
      await t.healthy();

      // The same signed message finishes the half-way login: the user does not sign again.
      const again = await verify(halfway, uid, message, signature);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      const callback = await followToClient(halfway, again.body.redirectTo!);
      assert.ok(callback.searchParams.get('code'));
      // Nothing from before is lost: accounts, sessions (no new signature, no consent) and tokens.
      for (const { wallet: w, agent, tokens } of before) {
        assert.equal((await server.ctx.stores.accounts.find(w.address))?.loginCount, 1);
        const resumed = await followToClient(agent, rp.authorization(client).url.href, { consent: false });
        assert.ok(resumed.searchParams.get('code'), `the session survived: ${resumed.href}`);
        assert.equal(await rp.userinfoStatus(tokens.access_token!), 200);
      }
      // And new people sign in, on the same server.
      await rp.signIn(client);
    });

    it('lets a verify cut off half-way by the outage be sent again with the same signature, once', async () => {
      const server = t.server();
      const client = t.client();
      const rp = relyingParty(server);
      const agent: Agent = createAgent(server.issuer);
      const wallet = Wallet.createRandom();
      const uid = await startLogin(agent, rp.authorization(client).url);
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const signature = await wallet.signMessage(message);

      // Postgres goes away after the nonce was consumed and the signature checked, as the account is written.
      const accounts = server.ctx.stores.accounts;
      const recordLogin = accounts.recordLogin;
      let cut = 0;
      accounts.recordLogin = async (...args) => {
        if (cut++ === 0) await t.proxy().stop();
        return recordLogin(...args);
      };
      try {
        const failed = await verify(agent, uid, message, signature);
        assert.equal(failed.status, 503, JSON.stringify(failed.body));
        assert.equal(failed.body.error, 'database_unavailable');
        await t.proxy().start();
        await t.healthy();

        const retried = await verify(agent, uid, message, signature);
        assert.equal(retried.status, 200, JSON.stringify(retried.body));
        // Once: a replay after the success is still refused.
        const replay = await verify(agent, uid, message, signature);
        assert.equal(replay.status, 409);
        assert.equal(replay.body.error, 'nonce_used');
        const callback = await followToClient(agent, retried.body.redirectTo!);
        assert.ok(callback.searchParams.get('code'));
        assert.equal((await accounts.find(wallet.address))?.loginCount, 1, 'one login, recorded once');
      } finally {
        accounts.recordLogin = recordLogin;
      }
    });

    it('still refuses a signature sent from another login after an outage', async () => {
      const server = t.server();
      const client = t.client();
      const rp = relyingParty(server);
      const wallet = Wallet.createRandom();
      const victim = createAgent(server.issuer);
      const uid = await startLogin(victim, rp.authorization(client).url);
      const { message } = await requestChallenge(victim, uid, wallet.address);
      const signature = await wallet.signMessage(message);
      await t.proxy().stop();
      assert.equal((await verify(victim, uid, message, signature)).status, 503);
      await t.proxy().start();
      await t.healthy();
      // Another browser, its own login: the nonce was issued for the first one.
      const other = createAgent(server.issuer);
      const otherUid = await startLogin(other, rp.authorization(client).url);
      const stolen = await postJson(other, `/interaction/${otherUid}/verify`, { message, signature });
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, 'nonce_unknown');
    });
  });
}
