// Rate limits under attack: the protocol endpoints and the login API refuse a burst from one client IP
// with 429, Retry-After and `rate_limited`; verify is limited per address from any IP; failed client
// authentication backs off and then locks the client id out, the right secret included; the count is
// shared by instances on one database; X-Forwarded-For is read only for the configured proxy hops; and
// a flood leaves one bounded audit row. Budgets are tiny; time moves with mock timers (Date only),
// because rate-limiter-flexible reads Date.now().
import assert from 'node:assert/strict';
import { after, afterEach, before, it, mock } from 'node:test';
import { Wallet } from 'ethers';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { createPostgresRateCounters } from '../../src/db/rate-limits.ts';
import type { MemoryStores } from '../../src/memory/stores.ts';
import type { LoginEvent } from '../../src/observer.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describeEachDatabase } from '../helpers/db.ts';
import { createAgent, postJson, startLogin, type Agent } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { describeEachStore, startTestServer, type TestServer } from '../helpers/server.ts';

/** Every limit off, so each test turns on only the one it is about. */
const ALL_OFF = {
  LOGIN_RATE_LIMIT: '0',
  VERIFY_ADDRESS_RATE_LIMIT: '0',
  AUTHORIZATION_RATE_LIMIT: '0',
  TOKEN_RATE_LIMIT: '0',
  END_SESSION_RATE_LIMIT: '0',
  CLIENT_AUTH_FAILURE_LIMIT: '0',
  CLIENT_LOCKOUT_LIMIT: '0',
};

const form = (params: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(params),
});

/** Sends `count` requests one after another; returns the statuses, and the first 429 with its body. */
async function burst(server: TestServer, path: string, init: () => RequestInit, count: number) {
  const statuses: number[] = [];
  let limited: { res: Response; body: { error?: string; error_description?: string } } | undefined;
  for (let i = 0; i < count; i++) {
    const res = await fetch(new URL(path, server.issuer), { redirect: 'manual', ...init() });
    statuses.push(res.status);
    if (res.status === 429 && !limited) limited = { res, body: (await res.json()) as { error?: string } };
    else await res.arrayBuffer();
  }
  return { statuses, limited };
}

function assertRefused(limited: Awaited<ReturnType<typeof burst>>['limited'], maxRetryAfter: number) {
  assert.ok(limited, 'a request was refused');
  assert.equal(limited.body.error, 'rate_limited');
  assert.equal(typeof limited.body.error_description, 'string');
  const retryAfter = Number(limited.res.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= maxRetryAfter, `Retry-After ${retryAfter}`);
}

/** The audit trail, from the database or the in-memory stores. */
async function loginEvents(server: TestServer): Promise<Partial<Record<string, unknown>>[]> {
  const db = server.ctx.database?.knex;
  if (!db)
    return (server.ctx.stores as MemoryStores).events.map((e: LoginEvent) => ({
      reason: e.reason,
      interaction_uid: e.interactionUid,
      address: e.address,
      ip: e.ip,
      user_agent: e.userAgent,
    }));
  return db('login_events').orderBy('id').select('reason', 'interaction_uid', 'address', 'ip', 'user_agent');
}

describeEachStore('rate limits per client IP', (start) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let client: StoredClient;
  before(async () => {
    ({ server, stop } = await start({ env: { ...ALL_OFF, AUTHORIZATION_RATE_LIMIT: '2', TOKEN_RATE_LIMIT: '2', END_SESSION_RATE_LIMIT: '2' } }));
    client = await server.addClient();
  });
  after(() => stop?.());

  const auth = { client_id: 'x', response_type: 'code', scope: 'openid' };
  const endpoints: [string, string, () => RequestInit][] = [
    ['GET /auth', `/auth?${new URLSearchParams(auth)}`, () => ({})],
    ['GET /session/end', '/session/end', () => ({})],
    [
      'POST /token',
      '/token',
      () => form({ grant_type: 'authorization_code', code: 'nope', client_id: client.client_id, client_secret: client.client_secret! }),
    ],
    ['POST /token/introspection', '/token/introspection', () => form({ token: 'nope', client_id: client.client_id, client_secret: client.client_secret! })],
    ['POST /token/revocation', '/token/revocation', () => form({ token: 'nope', client_id: client.client_id, client_secret: client.client_secret! })],
  ];
  for (const [name, path, init] of endpoints) {
    it(`refuses a burst at ${name} with 429, Retry-After and rate_limited in OAuth's error shape`, async () => {
      const { statuses, limited } = await burst(server, path, init, 4);
      assert.deepEqual(
        statuses.map((s) => s === 429),
        [false, false, true, true],
        String(statuses),
      );
      assertRefused(limited, 60);
    });
  }

  it('counts POST /auth with GET /auth, and /session/end/confirm with /session/end', async () => {
    // Both budgets were spent by the bursts above.
    assert.equal((await burst(server, '/auth', () => form(auth), 1)).statuses[0], 429);
    assert.equal((await burst(server, '/session/end/confirm', () => form({ logout: 'yes' }), 1)).statuses[0], 429);
  });

  it('leaves endpoints without a limit alone (discovery, JWKS)', async () => {
    const { statuses } = await burst(server, '/.well-known/openid-configuration', () => ({}), 5);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  });
});

describeEachStore('failed client authentication', (start) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let rp: ReturnType<typeof relyingParty>;
  afterEach(async () => {
    mock.timers.reset();
    await stop?.();
  });
  /** A server with these limits, its time frozen (Date only) so the test moves it. */
  const begin = async (env: Record<string, string>) => {
    ({ server, stop } = await start({ env: { ...ALL_OFF, ...env } }));
    rp = relyingParty(server);
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    return server.addClient();
  };
  const wrong = (client: StoredClient) => ({ ...client, client_secret: 'not-the-secret' });

  it('backs off: past the limit a minute, even the right secret is refused until the minute ends', async () => {
    const client = await begin({ CLIENT_AUTH_FAILURE_LIMIT: '2' });
    for (let i = 0; i < 3; i++) assert.equal((await rp.introspect(wrong(client), 'x')).status, 401);
    const refused = await fetch(
      `${server.issuer}/token/introspection`,
      form({ token: 'x', client_id: client.client_id, client_secret: client.client_secret! }),
    );
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: string }).error, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) <= 60);
    const other = await server.addClient();
    assert.equal((await rp.introspect(other, 'x')).status, 200, 'another client id is not refused');
    mock.timers.tick(61_000);
    assert.equal((await rp.introspect(client, 'x')).status, 200, 'the right secret works once the minute ended');
  });

  it('locks the client id out past the hourly limit, whatever the endpoint or the way it authenticates, then lets the right secret in', async () => {
    const client = await begin({ CLIENT_LOCKOUT_LIMIT: '3', CLIENT_LOCKOUT: '600' });
    const basic = (secret: string) => ({ authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}` });
    assert.equal((await rp.introspect(wrong(client), 'x')).status, 401);
    assert.equal((await rp.revoke(wrong(client), 'x')).status, 401);
    assert.equal((await fetch(`${server.issuer}/token`, form({ grant_type: 'authorization_code', code: 'x' }, basic('wrong')))).status, 401);
    assert.equal((await rp.introspect(wrong(client), 'x')).status, 401, 'the failure that crosses the limit is answered as usual');
    for (const res of [
      await fetch(`${server.issuer}/token/revocation`, form({ token: 'x' }, basic(client.client_secret!))),
      await fetch(`${server.issuer}/token/introspection`, form({ token: 'x', client_id: client.client_id, client_secret: client.client_secret! })),
    ]) {
      assert.equal(res.status, 429);
      assert.equal(Number(res.headers.get('retry-after')), 600);
    }
    mock.timers.tick(590_000);
    assert.equal((await rp.introspect(client, 'x')).status, 429, 'still locked out');
    mock.timers.tick(10_000);
    assert.equal((await rp.introspect(client, 'x')).status, 200, 'the lockout ended');
  });
});

describeEachStore('X-Forwarded-For', (start) => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(() => stop?.());
  const auth = (server: TestServer, xff: string) => burst(server, '/auth', () => ({ headers: { 'x-forwarded-for': xff } }), 1).then((r) => r.statuses[0]);

  it('is ignored without TRUST_PROXY: changing it does not escape the limit', async () => {
    let server: TestServer;
    ({ server, stop } = await start({ env: { ...ALL_OFF, AUTHORIZATION_RATE_LIMIT: '2' } }));
    const statuses = [await auth(server, '198.51.100.1'), await auth(server, '198.51.100.2'), await auth(server, '198.51.100.3')];
    assert.deepEqual(
      statuses.map((s) => s === 429),
      [false, false, true],
    );
  });

  it('is read for exactly TRUST_PROXY hops: entries the client wrote before them change nothing', async () => {
    let server: TestServer;
    ({ server, stop } = await start({ env: { ...ALL_OFF, AUTHORIZATION_RATE_LIMIT: '2', TRUST_PROXY: '2' } }));
    // client → proxy 1 (adds the client's address) → proxy 2 (adds proxy 1's) → us.
    const spoofed = [
      await auth(server, '10.9.9.1, 203.0.113.5, 10.0.0.2'),
      await auth(server, '10.9.9.2, 203.0.113.5, 10.0.0.2'),
      await auth(server, '203.0.113.5, 10.0.0.2'),
    ];
    assert.deepEqual(
      spoofed.map((s) => s === 429),
      [false, false, true],
      'the same client behind a spoofed prefix',
    );
    assert.notEqual(await auth(server, '10.9.9.1, 203.0.113.6, 10.0.0.2'), 429, 'another client behind the same proxies');
  });
});

describeEachStore('the login API', (start) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let agent: Agent;
  let uid: string;
  before(async () => {
    ({ server, stop } = await start({ env: { ...ALL_OFF, TRUST_PROXY: 'true', VERIFY_ADDRESS_RATE_LIMIT: '2', LOGIN_RATE_LIMIT: '3' } }));
    const client = await server.addClient();
    agent = createAgent(server.issuer);
    uid = await startLogin(agent, relyingParty(server).authorization(client).url);
  });
  after(() => stop?.());
  const signedFor = (address: string) => ({
    message: `127.0.0.1 wants you to sign in with your Ethereum account:\n${address}\n\nnonce`,
    signature: `0x${'11'.repeat(65)}`,
  });
  const from = (ip: string, userAgent = 'test') => ({ headers: { 'x-forwarded-for': ip, 'user-agent': userAgent } });

  it('limits verify per address across client IPs, before any nonce or signature work, and audits the first refusal', async () => {
    const address = Wallet.createRandom().address;
    const before = (await loginEvents(server)).length;
    const statuses: number[] = [];
    for (let i = 1; i <= 4; i++) statuses.push((await postJson(agent, `/interaction/${uid}/verify`, signedFor(address), from(`198.51.100.${i}`))).status);
    assert.deepEqual(statuses, [400, 400, 429, 429], 'two refused by verifyLogin, then refused before it');
    const other = await postJson(agent, `/interaction/${uid}/verify`, signedFor(Wallet.createRandom().address), from('198.51.100.9'));
    assert.equal(other.status, 400, 'another address is not limited');
    const rows = (await loginEvents(server)).slice(before);
    assert.deepEqual(
      rows.map((r) => [r.reason, r.address ?? null]),
      [
        ['invalid_message', null],
        ['invalid_message', null],
        ['rate_limited', address],
        ['invalid_message', null],
      ],
    );
  });

  it('writes one bounded audit row for a flood from one client IP, with the IP the proxy saw', async () => {
    const before = (await loginEvents(server)).length;
    const longUid = `%00${'u'.repeat(300)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await postJson(
        agent,
        `/interaction/${longUid}/challenge`,
        { address: Wallet.createRandom().address, chainId: 1 },
        from(`10.0.0.1, 203.0.113.77`, 'A'.repeat(8000)),
      );
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [400, 400, 400, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
    const rows = (await loginEvents(server)).slice(before);
    assert.deepEqual(
      rows.map((r) => r.reason),
      ['interaction_not_found', 'interaction_not_found', 'interaction_not_found', 'rate_limited'],
      'nine refusals by the limit, one row',
    );
    for (const row of rows) {
      assert.equal(row.ip, '203.0.113.77');
      assert.equal(String(row.user_agent).length, 512);
      assert.ok(String(row.interaction_uid).length <= 64 && !String(row.interaction_uid).includes('\u0000'), String(row.interaction_uid));
    }
  });
});

describeEachDatabase('rate limits shared through the database', (backend) => {
  const servers: TestServer[] = [];
  let drop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const s of servers) await s.close();
    await drop?.();
  });

  it('makes a second instance refuse once the first used the budget', async () => {
    const db = await backend.create();
    drop = db.drop;
    const env = { ...ALL_OFF, AUTHORIZATION_RATE_LIMIT: '3' };
    const first = await startTestServer(db, { env });
    servers.push(first);
    // PGlite is one process's database: there, the second instance is a second limiter over the same one.
    const second =
      backend.kind === 'postgres'
        ? await startTestServer(db, { env })
        : await startTestServer('memory', { env, overrides: { rateLimiter: createRateLimiter(createPostgresRateCounters(first.ctx.database!.sql)) } });
    servers.push(second);
    assert.deepEqual((await burst(first, '/auth', () => ({}), 3)).statuses.includes(429), false);
    const { statuses, limited } = await burst(second, '/auth', () => ({}), 1);
    assert.deepEqual(statuses, [429]);
    assertRefused(limited, 60);
    assert.ok(
      Number(
        await first.ctx
          .database!.knex('rate_limits')
          .where('key', 'auth:127.0.0.1')
          .first('points')
          .then((r) => r.points),
      ) >= 4,
    );
  });
});
