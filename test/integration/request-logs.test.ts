// What the server writes while it answers: one JSON line per request with its id, route, status,
// duration and client; the id echoed on every answer (a proxy's only with TRUST_PROXY); never a
// token, secret, signature or cookie; and /readyz down to one line, no stack, while Postgres is away.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { createLogger } from '../../src/logger.ts';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, followToClient, requestChallenge, startLogin, verify } from '../helpers/login.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

interface Line {
  level: number;
  msg: string;
  requestId?: string;
  method?: string;
  route?: string | null;
  status?: number;
  durationMs?: number;
  clientId?: string;
  [key: string]: unknown;
}

/** A logger whose lines the test reads, and a wait for the request line of one id (written when the response finishes). */
function captureLogs() {
  const raw: string[] = [];
  const written = new EventEmitter();
  const logger = createLogger('debug', { write: (line: string) => (raw.push(line), written.emit('line')) });
  const lines = () => raw.map((line) => JSON.parse(line) as Line);
  const requestLines = (requestId: string) => lines().filter((l) => l.msg === 'request' && l.requestId === requestId);
  const requestLine = async (requestId: string): Promise<Line> => {
    while (!requestLines(requestId).length) await new Promise((resolve) => written.once('line', resolve));
    return requestLines(requestId)[0]!;
  };
  return { logger, raw, lines, requestLines, requestLine };
}

function setup(opts: TestServerOptions = {}) {
  const logs = captureLogs();
  let server: TestServer;
  before(async () => {
    server = await startTestServer('memory', { ...opts, overrides: { logger: logs.logger } });
  });
  after(() => server?.close());
  return { logs, server: () => server };
}

describe('request logs', () => {
  const { logs, server } = setup();

  it('writes one line per request with method, route, status, duration, request id and client, and returns the id', async () => {
    const client = await server().addClient();
    const res = await fetch(`${server().issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'nope',
        redirect_uri: 'https://rp.example.com/callback',
        client_id: client.client_id,
        client_secret: client.client_secret!,
      }),
    });
    assert.equal(res.status, 400);
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/, 'a generated UUID');
    const line = await logs.requestLine(id!);
    assert.equal(line.level, 30);
    assert.deepEqual(
      { method: line.method, route: line.route, status: line.status, clientId: line.clientId },
      { method: 'POST', route: 'token', status: 400, clientId: client.client_id },
    );
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(logs.requestLines(id!).length, 1, 'one line, not one per layer');

    // Our own routes log their template, not the path with its interaction uid.
    const agent = createAgent(server().issuer);
    const uid = await startLogin(agent, relyingParty(server()).authorization(client).url);
    const page = await agent.fetch(`${server().issuer}/interaction/${uid}`);
    const pageLine = await logs.requestLine(page.headers.get('x-request-id')!);
    assert.equal(pageLine.route, '/interaction/:uid');
    assert.ok(!JSON.stringify(pageLine).includes(uid));
  });

  it('gives every answer its own id, input-gate refusals included', async () => {
    const refused = await rawRequest(server().port, { method: 'GET', target: '/auth?client_id=%00' });
    assert.equal(refused.status, 400);
    const other = await fetch(`${server().issuer}/.well-known/openid-configuration`);
    const [a, b] = [refused.headers.match(/^x-request-id: (.+)\r$/im)![1]!, other.headers.get('x-request-id')!];
    assert.notEqual(a, b);
    assert.equal((await logs.requestLine(a)).status, 400);
    assert.equal((await logs.requestLine(b)).route, 'discovery');
  });

  it('ignores an X-Request-Id a client sends without TRUST_PROXY', async () => {
    const res = await fetch(`${server().issuer}/healthz`, { headers: { 'x-request-id': 'spoofed-id' } });
    const id = res.headers.get('x-request-id')!;
    assert.notEqual(id, 'spoofed-id');
    await logs.requestLine(id);
    assert.ok(!logs.raw.some((line) => line.includes('spoofed-id')));
  });

  it('logs probes at debug, so LOG_LEVEL=info leaves them out', async () => {
    const res = await fetch(`${server().issuer}/readyz`);
    assert.equal(res.status, 200);
    assert.equal((await logs.requestLine(res.headers.get('x-request-id')!)).level, 20);
  });

  it('never writes a token, secret, signature, nonce or cookie across a login, token, refresh and userinfo', async () => {
    const client = await server().addClient({ grant_types: ['authorization_code', 'refresh_token'] });
    const rp = relyingParty(server());
    const agent = createAgent(server().issuer);
    const wallet = Wallet.createRandom();
    const { url, verifier } = rp.authorization(client, { scope: 'openid offline_access', prompt: 'consent' });
    const uid = await startLogin(agent, url);
    const { message, nonce } = await requestChallenge(agent, uid, wallet.address);
    const signature = await wallet.signMessage(message);
    const verified = await verify(agent, uid, message, signature);
    assert.equal(verified.status, 200);
    const callback = await followToClient(agent, verified.body.redirectTo!);
    const tokens = await rp.redeem(client, callback, verifier);
    const refreshed = await rp.refresh(client, tokens.refresh_token!);
    assert.equal(refreshed.status, 200);
    assert.equal(await rp.userinfoStatus(refreshed.body.access_token!), 200);
    const userinfo = await fetch(`${server().issuer}/me`, { headers: { authorization: `Bearer ${refreshed.body.access_token!}` } });
    await logs.requestLine(userinfo.headers.get('x-request-id')!);

    const cookies = (await agent.jar.getCookies(server().issuer)).map((c) => c.value);
    const secrets = {
      client_secret: client.client_secret!,
      code: callback.searchParams.get('code')!,
      code_verifier: verifier,
      access_token: tokens.access_token!,
      id_token: tokens.id_token!,
      refresh_token: tokens.refresh_token!,
      refreshed_access_token: refreshed.body.access_token!,
      refreshed_refresh_token: refreshed.body.refresh_token!,
      signature,
      siwe_nonce: nonce,
      ...Object.fromEntries(cookies.map((value, i) => [`cookie ${i}`, value])),
    };
    assert.ok(cookies.length > 0, 'the login left cookies to look for');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 8, name);
      assert.equal(logs.raw.filter((line) => line.includes(value)).length, 0, `${name} appears in the log`);
    }
    // The login-outcome line carries the request id of the verify that produced it.
    const success = logs.lines().find((l) => l.msg === 'login succeeded' && l.address === wallet.address);
    assert.ok(success);
    assert.deepEqual(
      { clientId: success.clientId, chainId: success.chainId, outcome: success.outcome },
      { clientId: client.client_id, chainId: 1, outcome: 'success' },
    );
    const verifyLine = logs.lines().find((l) => l.msg === 'request' && l.requestId === success.requestId);
    assert.equal(verifyLine?.route, '/interaction/:uid/verify');
    assert.equal(verifyLine?.clientId, client.client_id);
  });
});

describe('request logs behind a trusted proxy (TRUST_PROXY)', () => {
  const { logs, server } = setup({ env: { TRUST_PROXY: '1' } });

  it("keeps the proxy's X-Request-Id, and replaces one that is too long or has other characters", async () => {
    const kept = await fetch(`${server().issuer}/healthz`, { headers: { 'x-request-id': 'edge-7f3a:42' } });
    assert.equal(kept.headers.get('x-request-id'), 'edge-7f3a:42');
    assert.equal((await logs.requestLine('edge-7f3a:42')).route, '/healthz');
    for (const bad of ['x'.repeat(129), 'a b', 'id"}{']) {
      const res = await fetch(`${server().issuer}/healthz`, { headers: { 'x-request-id': bad } });
      assert.notEqual(res.headers.get('x-request-id'), bad);
    }
  });
});

const baseUrl = process.env.TEST_DATABASE_URL;
describe('/readyz while Postgres is away', { skip: baseUrl ? false : process.env.CI === 'true' ? false : 'TEST_DATABASE_URL is not set' }, () => {
  const logs = captureLogs();
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  before(async () => {
    assert.ok(baseUrl, 'under CI=true the Postgres suite must run');
    db = await createPostgresDatabase(baseUrl);
    const target = new URL(db.env.DATABASE_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startTestServer(db, { env: { DATABASE_URL: proxy.via(db.env.DATABASE_URL!) }, overrides: { logger: logs.logger } });
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 database_unreachable with one warn line and no stack, while /healthz stays 200', async () => {
    assert.equal((await fetch(`${server.issuer}/readyz`)).status, 200);
    await proxy.stop();
    const res = await fetch(`${server.issuer}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.deepEqual(await res.json(), { status: 'unavailable', error: 'database_unreachable' });
    assert.equal((await fetch(`${server.issuer}/healthz`)).status, 200, 'liveness does not ask the database: no restart for an outage');

    const id = res.headers.get('x-request-id')!;
    await logs.requestLine(id);
    const atInfo = logs.lines().filter((l) => l.requestId === id && l.level >= 30);
    assert.equal(atInfo.length, 1, JSON.stringify(atInfo));
    assert.deepEqual(
      { level: atInfo[0]!.level, msg: atInfo[0]!.msg, reason: atInfo[0]!.reason },
      { level: 40, msg: 'not ready', reason: 'database_unreachable' },
    );
    assert.ok(!logs.raw.some((line) => line.includes(id) && line.includes('"stack"')));

    await proxy.start();
    for (let attempt = 0; (await fetch(`${server.issuer}/readyz`)).status !== 200; attempt++) {
      assert.ok(attempt < 200, '/readyz never answered 200 after Postgres came back');
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
});
