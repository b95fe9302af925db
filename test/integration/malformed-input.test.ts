// Malformed input never answers 5xx. The input gate refuses NUL and other controls, invalid UTF-8 and
// percent-encoding and compressed bodies before any route or the database; a NUL the gate cannot see
// (inside a JWT) finds nothing in the database; a malformed interaction uid or handoff secret is refused
// without a lookup or an audit row. Runs on Postgres (where NUL used to give 500s), PGlite and the in-memory stores.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createAgent, startLogin, type Agent } from '../helpers/login.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { describeEachStore, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { errors } from 'oidc-provider';
import { toAppError } from '../../src/http/errors.ts';
import { createPayloadAdapter } from '../../src/oidc/adapter.ts';
import type { MemoryStores } from '../../src/memory/stores.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
const JSON_ACCEPT = { headers: { accept: 'application/json' } };
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function suite(start: () => Promise<{ server: TestServer; stop(): Promise<void> }>) {
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;
  let client: StoredClient;
  let queries = 0;
  before(async () => {
    ({ server, stop } = await start());
    client = await server.addClient();
    // Every statement, knex's and the hot path's (db/sql.ts emits knex's own event).
    server.ctx.database?.knex.on('query', () => (queries += 1));
  });
  after(() => stop?.());

  const form = (params: Record<string, string>): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret!, ...params }),
  });
  const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;
  const loginEvents = async () =>
    server.ctx.database
      ? await server.ctx.database.knex('login_events').select('interaction_uid')
      : (server.ctx.stores as MemoryStores).events.map((e) => ({ interaction_uid: e.interactionUid }));

  async function atLogin(): Promise<{ agent: Agent; uid: string }> {
    const agent = createAgent(server.issuer);
    const url = new URL('/auth', server.issuer);
    const params = { client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', ...PKCE };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { agent, uid: await startLogin(agent, url) };
  }

  it('refuses NUL bytes in codes, tokens, client ids and interaction ids with 400 invalid_request, before the database', async () => {
    const nul = 'a\u0000b';
    const shapes: [string, string, RequestInit][] = [
      ['code', '/token', form({ grant_type: 'authorization_code', code: nul, redirect_uri: REDIRECT_URI })],
      ['refresh token', '/token', form({ grant_type: 'refresh_token', refresh_token: nul })],
      ['client id', '/token', form({ grant_type: 'authorization_code', code: 'x', client_id: nul })],
      ['introspected token', '/token/introspection', form({ token: nul })],
      ['revoked token', '/token/revocation', form({ token: nul })],
      ['access token parameter', `/me?access_token=${encodeURIComponent(nul)}`, {}],
      ['bearer token', '/me', { headers: { authorization: `Bearer ${encodeURIComponent(nul)}` } }],
      ['client id at /auth', `/auth?client_id=${encodeURIComponent(nul)}&response_type=code&scope=openid`, JSON_ACCEPT],
      ['interaction uid', `/interaction/${encodeURIComponent(nul)}`, JSON_ACCEPT],
      ['interaction uid (handoff status)', `/interaction/${encodeURIComponent(nul)}/handoff`, JSON_ACCEPT],
      ['handoff secret', `/handoff/${encodeURIComponent(nul)}`, JSON_ACCEPT],
    ];
    const before = queries;
    for (const [name, path, init] of shapes) {
      const res = await fetch(new URL(path, server.issuer), { redirect: 'manual', ...init });
      assert.equal(res.status, 400, name);
      assert.equal(await errorOf(res), 'invalid_request', name);
    }
    assert.equal(queries, before, 'no statement reached the database');
  });

  it('refuses invalid UTF-8 and percent-encoding, and controls in client credentials', async () => {
    const basic = (credentials: Buffer) => `Basic ${credentials.toString('base64')}`;
    const shapes: [string, Parameters<typeof rawRequest>[1]][] = [
      ['lone surrogate in the query', { method: 'GET', target: '/auth?state=%ED%A0%80' }],
      ['overlong NUL in the query', { method: 'GET', target: '/auth?state=%C0%80' }],
      ['invalid percent-encoding', { method: 'GET', target: '/auth?state=%zz' }],
      ['control in the path', { method: 'GET', target: '/static/brand.css%01' }],
      [
        'invalid UTF-8 in a form body',
        { method: 'POST', target: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from([0x61, 0x3d, 0xff]) },
      ],
      ['control in Basic credentials', { method: 'POST', target: '/token', headers: { authorization: basic(Buffer.from('a%00b:s')) } }],
      ['Basic credentials not UTF-8', { method: 'POST', target: '/token', headers: { authorization: basic(Buffer.from([0xff, 0x3a, 0x73])) } }],
    ];
    for (const [name, request] of shapes) {
      const res = await rawRequest(server.port, request);
      assert.equal(res.status, 400, `${name}: ${res.body.slice(0, 200)}`);
      assert.equal((JSON.parse(res.body) as { error: string }).error, 'invalid_request', name);
    }
  });

  it('finds nothing for a NUL hidden inside an id_token_hint', async () => {
    const hint = `${b64url({ alg: 'none' })}.${b64url({ aud: 'a\u0000b', iss: server.issuer, sub: 'x' })}.`;
    const auth = relyingParty(server).authorization(client, { id_token_hint: hint }).url;
    const authRes = await fetch(auth, { redirect: 'manual' });
    assert.equal(authRes.status, 303);
    assert.equal(new URL(authRes.headers.get('location')!).searchParams.get('error'), 'invalid_request');
    const logout = await fetch(new URL(`/session/end?id_token_hint=${hint}`, server.issuer), JSON_ACCEPT);
    assert.equal(logout.status, 400);
  });

  it('maps a database data exception on our routes to 400 invalid_request', async (t) => {
    if (!server.ctx.database) return t.skip('the in-memory stores hold any string');
    const err = await server.ctx.database!.knex.raw('SELECT ?::text AS t', ['a\u0000b']).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err, 'the database refuses a NUL');
    assert.equal(toAppError(err)?.code, 'invalid_request');
  });

  it("answers oidc-provider's invalid_request when the database refuses to store a value", async (t) => {
    if (!server.ctx.database) return t.skip('the in-memory stores hold any string');
    // Grant ids are stored as given (bearer secrets are stored hashed, and a hash holds no NUL).
    const adapter = createPayloadAdapter(server.ctx.stores.payloads, 'Grant', server.ctx.clock);
    await assert.rejects(adapter.upsert('a\u0000b', { accountId: 'x' }, 60), errors.InvalidRequest);
  });

  it('refuses a malformed interaction uid without a database read or a login event', async () => {
    const { agent, uid } = await atLogin();
    const eventsBefore = (await loginEvents()).length;
    const before = queries;
    for (const bad of [uid.slice(1), `${uid}x`, `${uid.slice(0, 42)}!`, 'x'.repeat(2000)]) {
      for (const [path, method] of [
        [`/interaction/${bad}`, 'GET'],
        [`/interaction/${bad}/handoff`, 'GET'],
        [`/interaction/${bad}/handoff`, 'POST'],
        [`/interaction/${bad}/challenge`, 'POST'],
        [`/interaction/${bad}/verify`, 'POST'],
      ] as const) {
        const res = await agent.fetch(new URL(path, server.issuer), {
          method,
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          ...(method === 'POST' ? { body: '{}' } : {}),
        });
        assert.equal(res.status, 400, path);
        assert.equal(await errorOf(res), 'interaction_not_found', path);
      }
    }
    assert.equal(queries, before, 'no statement reached the database');
    assert.equal((await loginEvents()).length, eventsBefore, 'no login event was recorded');
  });

  it('refuses a malformed handoff secret with 404 handoff_not_found, without a database read or a login event', async () => {
    const { agent, uid } = await atLogin();
    const offer = await agent.fetch(new URL(`/interaction/${uid}/handoff`, server.issuer), {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: '{}',
    });
    const secret = new URL(((await offer.json()) as { link: string }).link).pathname.split('/').pop()!;
    const phone = createAgent(server.issuer);
    const eventsBefore = (await loginEvents()).length;
    const before = queries;
    for (const bad of [secret.slice(1), `${secret}x`, `${secret.slice(0, 42)}!`, `${secret.slice(0, 42)}%2F`, 'x'.repeat(2000)]) {
      for (const [path, method] of [
        [`/handoff/${bad}`, 'GET'],
        [`/handoff/${bad}/challenge`, 'POST'],
        [`/handoff/${bad}/verify`, 'POST'],
      ] as const) {
        const res = await phone.fetch(new URL(path, server.issuer), {
          method,
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          ...(method === 'POST' ? { body: '{}' } : {}),
        });
        assert.equal(res.status, 404, path);
        const body = await res.text();
        // The page is HTML (a browser opened a link); the contract answers JSON.
        if (method === 'GET') assert.match(body, /<code>handoff_not_found<\/code>/, path);
        else assert.equal((JSON.parse(body) as { error: string }).error, 'handoff_not_found', path);
      }
    }
    assert.equal(queries, before, 'no statement reached the database');
    assert.equal((await loginEvents()).length, eventsBefore, 'no login event was recorded');
  });

  it('refuses controls and unpaired surrogates in JSON bodies, and any compressed body, with 400 invalid_request', async () => {
    const { agent, uid } = await atLogin();
    const post = (route: string, body: string, headers: Record<string, string> = {}) =>
      agent.fetch(new URL(`/interaction/${uid}/${route}`, server.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body,
      });
    for (const body of ['{"address":"a\\u0000b","chainId":1}', '{"address":"\\ud800","chainId":1}', '{"address":"a\\u001bb","chainId":1}']) {
      const res = await post('challenge', body);
      assert.equal(res.status, 400, body);
      assert.equal(await errorOf(res), 'invalid_request', body);
    }
    for (const route of ['challenge', 'verify']) {
      for (const encoding of ['gzip', 'deflate', 'br', 'x-garbage']) {
        const res = await post(route, 'not compressed at all', { 'content-encoding': encoding });
        assert.equal(res.status, 400, `${route} ${encoding}`);
        assert.equal(await errorOf(res), 'invalid_request', `${route} ${encoding}`);
      }
    }
  });
}

describeEachStore('malformed input', suite);
