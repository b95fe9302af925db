// Prometheus metrics, scraped from the metrics listener as Prometheus would: a login, a refusal and a
// rate-limited burst move their counters by exactly their counts with bounded labels; the database,
// signing key and process metrics are there; /metrics is never answered on the public port; and the
// real server serves METRICS_PORT and closes it on SIGTERM.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { createLogger } from '../../src/logger.ts';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createPgliteDatabase, describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, followToClient, postJson, requestChallenge, signIn, startLogin, verify } from '../helpers/login.ts';
import { freePort, startServerProcess } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const AUTH_LIMIT = 3;
/** The login API's budget per IP in this suite: the requests of two logins, and one more. */
const LOGIN_LIMIT = 5;
const HOUR_MS = 3_600_000;

/** The scrape as a map from `name{labels}` (labels as Prometheus prints them) to its value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const match = line.match(/^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

describeEachDatabase('metrics', (backend) => {
  let db: TestDatabase;
  let server: TestServer;
  let listener: MetricsServer;
  let client: StoredClient;
  let offsetMs = 0;
  const metricsUrl = () => `http://127.0.0.1:${listener.port}/metrics`;

  before(async () => {
    db = await backend.create();
    server = await startTestServer(db, {
      env: { AUTHORIZATION_RATE_LIMIT: String(AUTH_LIMIT), LOGIN_RATE_LIMIT: String(LOGIN_LIMIT) },
      clock: () => new Date(Date.now() + offsetMs),
    });
    listener = await startMetricsServer(server.ctx.metrics, createLogger('silent'), { port: 0, host: '127.0.0.1' });
    client = await server.addClient();
  });
  after(async () => {
    await listener?.close();
    await server?.close();
    await db?.drop();
  });

  it('counts a login, a refused signature and a rate-limited burst by exactly their counts', async () => {
    const rp = relyingParty(server);
    const before = await scrape(metricsUrl());

    const agent = createAgent(server.issuer);
    await followToClient(agent, await signIn(agent, await startLogin(agent, rp.authorization(client).url), Wallet.createRandom()));

    const other = createAgent(server.issuer);
    const uid = await startLogin(other, rp.authorization(client).url);
    const { message } = await requestChallenge(other, uid, Wallet.createRandom().address);
    const refusal = await verify(other, uid, message, await Wallet.createRandom().signMessage(message));
    assert.ok(refusal.status >= 400 && refusal.status < 500, `refused with ${refusal.status}`);
    const reason = refusal.body.error!;

    // Two /auth requests so far: one more is allowed, then each is refused.
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_LIMIT; i++) statuses.push((await fetch(rp.authorization(client).url, { redirect: 'manual' })).status);
    assert.deepEqual(statuses, [303, 429, 429]);

    // Four login API requests so far (two challenges, two verifies): one more is allowed, then each is refused.
    const loginStatuses: number[] = [];
    for (let i = 0; i < 2; i++)
      loginStatuses.push((await postJson(other, `/interaction/${uid}/challenge`, { address: Wallet.createRandom().address, chainId: 1 })).status);
    assert.equal(loginStatuses[1], 429, loginStatuses.join(' '));

    const now = await scrape(metricsUrl());
    const moved = (key: string) => (now.get(key) ?? 0) - (before.get(key) ?? 0);
    const id = client.client_id;
    assert.equal(moved(`wallet_oidc_logins_total{outcome="success",reason="",client="${id}"}`), 1);
    assert.equal(moved(`wallet_oidc_logins_total{outcome="refused",reason="${reason}",client="${id}"}`), 1);
    assert.equal(moved('wallet_oidc_rate_limited_total{rule="auth"}'), 2);
    assert.equal(moved('wallet_oidc_rate_limited_total{rule="login"}'), 1);
    assert.equal(moved('wallet_oidc_http_request_duration_seconds_count{route="authorization",method="GET",status="429"}'), 2);
    assert.equal(moved('wallet_oidc_http_request_duration_seconds_count{route="/interaction/:uid/verify",method="POST",status="200"}'), 1);
    assert.equal(moved(`wallet_oidc_http_request_duration_seconds_count{route="/interaction/:uid/verify",method="POST",status="${refusal.status}"}`), 1);
    assert.equal(moved('wallet_oidc_http_request_duration_seconds_count{route="token",method="POST",status="200"}'), 0);
    // Routes are templates: no sample names a raw interaction path.
    assert.ok(![...now.keys()].some((key) => key.includes(uid)), 'an interaction uid became a label');
    assert.ok(moved('wallet_oidc_db_query_duration_seconds_count{outcome="ok"}') > 0, 'queries were timed');
    assert.equal(now.get('wallet_oidc_db_pool_connections_max'), db.kind === 'postgres' ? 10 : 1);
    assert.equal(now.get('wallet_oidc_db_pool_pending_acquires'), 0);
    assert.equal(now.get('wallet_oidc_signing_keys_published'), 3, 'one key per algorithm');
    assert.ok(now.has('wallet_oidc_process_cpu_user_seconds_total'), 'process metrics are collected');
    assert.ok(now.has('wallet_oidc_nodejs_eventloop_lag_p99_seconds'), 'event loop metrics are collected');
  });

  it('reports the signing key’s age on the context’s clock', async () => {
    const rsa = 'wallet_oidc_signing_key_age_seconds{alg="RS256"}';
    const age = (await scrape(metricsUrl())).get(rsa)!;
    offsetMs += 24 * HOUR_MS;
    const later = (await scrape(metricsUrl())).get(rsa)!;
    assert.ok(later - age >= 24 * 3600 && later - age < 24 * 3600 + 60, `age moved by ${later - age} s`);
  });

  it('never answers /metrics on the public port, and only /metrics on its own', async () => {
    const res = await fetch(`${server.issuer}/metrics`);
    assert.equal(res.status, 404);
    assert.doesNotMatch(await res.text(), /wallet_oidc_/);
    assert.equal((await fetch(`http://127.0.0.1:${listener.port}/`)).status, 404);
    assert.equal((await fetch(metricsUrl(), { method: 'POST' })).status, 405);
  });
});

it('the server serves METRICS_PORT on METRICS_HOST and closes it on SIGTERM', async () => {
  const db = await createPgliteDatabase();
  const metricsPort = await freePort();
  const server = await startServerProcess({ ...db.env, METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' });
  try {
    const samples = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.ok(samples.has('wallet_oidc_signing_key_age_seconds{alg="EdDSA"}'));
    assert.equal((await fetch(`${server.issuer}/metrics`)).status, 404);
    assert.equal(await server.stop(), 0);
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'the metrics listener is closed');
  } finally {
    await server.stop();
    await db.drop();
  }
});
