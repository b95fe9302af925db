// Every route under hostile input: NUL and other controls, invalid UTF-8 and percent-encoding, lone
// surrogates, RTL marks and emoji, 1 MB values, deep JSON, garbage Content-Encoding, wrong content
// types and duplicate parameters, in the path, query, body and Authorization header. No answer may be
// a 5xx and nothing may be logged at error level. Deterministic: a fixed list plus seeded random bytes.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { pino } from 'pino';
import { describeEachDatabase } from '../helpers/db.ts';
import { createAgent, postJson, startLogin } from '../helpers/login.ts';
import { rawRequest, type RawRequest } from '../helpers/raw-http.ts';
import { REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const MB = 1024 * 1024;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** mulberry32: the same "random" bytes on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(11);
const randomBytes = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 256));
const percent = (bytes: number[]) => bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** Values as they appear on the wire, already percent-encoded where a browser would encode. */
const VALUES: [string, string][] = [
  ['NUL', 'a%00b'],
  ['C0 control', 'a%01b%1Fc'],
  ['CR LF', 'a%0D%0ASet-Cookie:%20x=y'],
  ['DEL', 'a%7Fb'],
  ['lone surrogate (UTF-8 of U+D800)', 'a%ED%A0%80b'],
  ['invalid UTF-8', '%FF%FE%C3'],
  ['overlong NUL', '%C0%80'],
  ['invalid percent-encoding', 'a%zzb%'],
  ['truncated percent', 'abc%4'],
  ['RTL override', '%E2%80%AEevil'],
  ['emoji', '%F0%9F%98%80%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB'],
  ['empty', ''],
  ['10 kB', 'x'.repeat(10_000)],
  ['unsigned JWT with NUL audience', `${b64url({ alg: 'none' })}.${b64url({ aud: 'a\u0000b', iss: 'x', sub: 'y' })}.`],
  ['JSON with NUL name', encodeURIComponent(JSON.stringify({ userinfo: { 'a\u0000b': null } }))],
  ['deep JSON', encodeURIComponent('['.repeat(5000) + ']'.repeat(5000))],
  ...Array.from({ length: 6 }, (_, i): [string, string] => [`random bytes #${i}`, percent(randomBytes(24))]),
];

/** JSON bodies for the login API: strings JSON may carry that a form cannot. */
const JSON_BODIES: [string, string][] = [
  ['NUL address', JSON.stringify({ address: 'a\u0000b', chainId: 1 })],
  ['lone surrogate address', '{"address":"\\ud800","chainId":1}'],
  ['RTL message', JSON.stringify({ message: '\u202e'.repeat(100), signature: '0x' + '00'.repeat(65) })],
  ['NUL message', JSON.stringify({ message: 'x\u0000y', signature: '0x' + '00'.repeat(65) })],
  ['deep JSON', '['.repeat(100_000) + ']'.repeat(100_000)],
  ['1 MB string', JSON.stringify({ address: 'a'.repeat(MB), chainId: 1 })],
  ['huge number', '{"address":"0x0000000000000000000000000000000000000000","chainId":1e400}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString('latin1')],
  ['not JSON', '{"address":'],
];

interface Route {
  path: string;
  methods: ('GET' | 'POST')[];
  /** A request that would be valid, or nearly: each fuzzed parameter replaces one of these. */
  params: Record<string, string>;
  /** JSON routes of the login API. */
  json?: boolean;
  /** The cookie sent instead of the desktop's interaction cookie (a phone's, on its handoff link). */
  cookie?: string;
}

function routes(t: { client: StoredClient; uid: string; discovery: Record<string, unknown>; handoff: string; phoneCookie: string }): Route[] {
  const auth = { client_id: t.client.client_id, client_secret: t.client.client_secret! };
  const endpoint = (key: string) => new URL(String(t.discovery[key])).pathname;
  const authorization = {
    client_id: t.client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid',
    state: 's',
    nonce: 'n',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    claims: '{}',
    id_token_hint: 'x',
    max_age: '60',
  };
  const interaction = `/interaction/${t.uid}`;
  return [
    { path: endpoint('authorization_endpoint'), methods: ['GET', 'POST'], params: authorization },
    {
      path: endpoint('token_endpoint'),
      methods: ['POST'],
      params: { ...auth, grant_type: 'authorization_code', code: 'c', redirect_uri: REDIRECT_URI, code_verifier: 'v' },
    },
    { path: endpoint('token_endpoint'), methods: ['POST'], params: { ...auth, grant_type: 'refresh_token', refresh_token: 'r' } },
    { path: endpoint('userinfo_endpoint'), methods: ['GET', 'POST'], params: { access_token: 'a' } },
    { path: endpoint('introspection_endpoint'), methods: ['POST'], params: { ...auth, token: 't', token_type_hint: 'access_token' } },
    { path: endpoint('revocation_endpoint'), methods: ['POST'], params: { ...auth, token: 't', token_type_hint: 'refresh_token' } },
    {
      path: endpoint('end_session_endpoint'),
      methods: ['GET', 'POST'],
      params: { client_id: t.client.client_id, id_token_hint: 'x', state: 's', post_logout_redirect_uri: 'https://rp.example.com/x' },
    },
    { path: `${endpoint('end_session_endpoint')}/confirm`, methods: ['POST'], params: { xsrf: 'x', logout: 'yes' } },
    { path: `${endpoint('end_session_endpoint')}/success`, methods: ['GET'], params: { client_id: t.client.client_id } },
    { path: `${endpoint('authorization_endpoint')}/${t.uid}`, methods: ['GET'], params: {} },
    { path: endpoint('jwks_uri'), methods: ['GET'], params: {} },
    { path: '/.well-known/openid-configuration', methods: ['GET'], params: {} },
    { path: interaction, methods: ['GET'], params: {} },
    { path: `${interaction}/challenge`, methods: ['POST'], params: { address: '0x0000000000000000000000000000000000000000', chainId: '1' }, json: true },
    { path: `${interaction}/verify`, methods: ['POST'], params: { message: 'm', signature: '0x00' }, json: true },
    // The phone's side of a handoff (its device claimed the link), before the desktop's own routes replace the link.
    { path: t.handoff, methods: ['GET'], params: {}, cookie: t.phoneCookie },
    {
      path: `${t.handoff}/challenge`,
      methods: ['POST'],
      params: { address: '0x0000000000000000000000000000000000000000', chainId: '1' },
      json: true,
      cookie: t.phoneCookie,
    },
    { path: `${t.handoff}/verify`, methods: ['POST'], params: { message: 'm', signature: '0x00' }, json: true, cookie: t.phoneCookie },
    { path: `${interaction}/handoff`, methods: ['GET', 'POST'], params: {}, json: true },
    { path: `${interaction}/confirm`, methods: ['POST'], params: {} },
    { path: `${interaction}/abort`, methods: ['GET', 'POST'], params: {} },
    { path: '/healthz', methods: ['GET'], params: {} },
    { path: '/readyz', methods: ['GET'], params: {} },
    { path: '/', methods: ['GET'], params: {} },
    { path: '/static/brand.css', methods: ['GET'], params: {} },
    { path: '/static/login.js', methods: ['GET'], params: {} },
  ];
}

const query = (params: Record<string, string>, replace?: [string, string]) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${replace && k === replace[0] ? replace[1] : encodeURIComponent(v)}`)
    .join('&');

/** Every request shape for one route, labelled. */
function* shapes(route: Route, interactionCookie: string): Generator<[string, RawRequest]> {
  const form = { 'content-type': 'application/x-www-form-urlencoded', cookie: route.cookie ?? interactionCookie, accept: 'application/json' };
  const names = Object.keys(route.params).length ? Object.keys(route.params) : ['x'];
  for (const method of route.methods) {
    const send = (q: string, body?: string | Buffer, headers: Record<string, string> = {}): RawRequest =>
      method === 'GET' || body === undefined
        ? { method, target: `${route.path}${q ? `?${q}` : ''}`, headers: { ...form, ...headers } }
        : { method, target: route.path, headers: { ...form, ...headers }, body };
    for (const name of names) {
      for (const [label, value] of VALUES) {
        const q = query(route.params, [name, value]);
        const withName = name in route.params ? q : `${q}${q ? '&' : ''}${name}=${value}`;
        yield [`${method} ${route.path} ${name}=${label}`, send(method === 'GET' ? withName : '', method === 'POST' ? withName : undefined)];
      }
    }
    const base = query(route.params);
    yield [
      `${method} ${route.path} parameter name with NUL`,
      send(method === 'GET' ? `${base}&a%00b=1` : '', method === 'POST' ? `${base}&a%00b=1` : undefined),
    ];
    yield [`${method} ${route.path} duplicate parameters`, send(method === 'GET' ? `${base}&${base}` : '', method === 'POST' ? `${base}&${base}` : undefined)];
    yield [`${method} ${route.path} 1 MB query`, { method, target: `${route.path}?x=${'a'.repeat(MB)}`, headers: form }];
    yield [`${method} ${route.path} path with NUL`, { method, target: `${route.path}%00`, headers: form }];
    yield [`${method} ${route.path} path with invalid UTF-8`, { method, target: `${route.path}%FF`, headers: form }];
    yield [`${method} ${route.path} path with invalid percent-encoding`, { method, target: `${route.path}%zz`, headers: form }];
    yield [
      `${method} ${route.path} raw non-ASCII byte in the path`,
      { method, target: Buffer.concat([Buffer.from(route.path), Buffer.from([0xff])]), headers: form },
    ];
    yield [`${method} ${route.path} 1 MB header`, { method, target: route.path, headers: { ...form, 'x-filler': 'a'.repeat(MB) } }];
    for (const auth of [
      'Bearer a%00b',
      'Bearer \u00ff\u00fe',
      `Basic ${Buffer.from('a%00b:s').toString('base64')}`,
      `Basic ${Buffer.from('a%zz:s%').toString('base64')}`,
    ]) {
      yield [
        `${method} ${route.path} Authorization ${JSON.stringify(auth)}`,
        send(method === 'GET' ? base : '', method === 'POST' ? base : undefined, { authorization: auth }),
      ];
    }
    yield [
      `${method} ${route.path} Basic with invalid UTF-8`,
      send('', method === 'POST' ? base : undefined, { authorization: `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString('base64')}` }),
    ];
    if (method !== 'POST') continue;
    const body = route.json ? JSON.stringify(route.params) : base;
    const type = route.json ? 'application/json' : 'application/x-www-form-urlencoded';
    for (const encoding of ['gzip', 'deflate', 'br', 'x-garbage', 'gzip, identity', 'identity']) {
      yield [`POST ${route.path} Content-Encoding: ${encoding}`, send('', body, { 'content-type': type, 'content-encoding': encoding })];
    }
    for (const contentType of ['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1', '']) {
      yield [`POST ${route.path} Content-Type: ${contentType}`, send('', body, { 'content-type': contentType })];
    }
    yield [`POST ${route.path} 1 MB body`, send('', `${body}&x=${'a'.repeat(MB)}`, { 'content-type': type })];
    yield [`POST ${route.path} invalid UTF-8 body`, send('', Buffer.concat([Buffer.from(`${base}&x=`), Buffer.from([0xff, 0xfe])]), { 'content-type': type })];
    yield [
      `POST ${route.path} body cut short`,
      { ...send('', body, { 'content-type': type, 'content-length': String(Buffer.byteLength(body) + 10) }), end: true },
    ];
    if (route.json) {
      for (const [label, json] of JSON_BODIES) {
        yield [`POST ${route.path} JSON ${label}`, send('', Buffer.from(json, 'latin1'), { 'content-type': 'application/json' })];
      }
    }
  }
}

function suite(backend: Parameters<Parameters<typeof describeEachDatabase>[1]>[0]) {
  const lines: string[] = [];
  let server: TestServer;
  let drop: () => Promise<void>;
  let t: { client: StoredClient; uid: string; cookie: string; discovery: Record<string, unknown>; handoff: string; phoneCookie: string };
  before(async () => {
    const db = await backend.create();
    drop = () => db.drop();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    server = await startTestServer(db, { overrides: { logger } });
    const client = await server.addClient();
    const agent = createAgent(server.issuer);
    const uid = await startLogin(agent, relyingParty(server).authorization(client).url);
    const cookie = await agent.jar.getCookieString(`${server.issuer}/interaction/${uid}`);
    const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    // A link for signing on a phone, claimed by a phone asking for a message: the fuzzed phone requests carry its cookie.
    const { link } = (await postJson<{ link: string }>(agent, `/interaction/${uid}/handoff`, {})).body;
    const handoff = new URL(link).pathname;
    const phone = createAgent(server.issuer);
    assert.equal((await postJson(phone, `${handoff}/challenge`, { address: Wallet.createRandom().address, chainId: 1 })).status, 200);
    const phoneCookie = await phone.jar.getCookieString(link);
    assert.match(phoneCookie, /^wallet_oidc_handoff=/);
    t = { client, uid, cookie, discovery, handoff, phoneCookie };
  });
  after(async () => {
    await server?.close();
    await drop?.();
  });

  it('answers every malformed request on every route without a 5xx or an error logged', async () => {
    const failures: string[] = [];
    let count = 0;
    for (const route of routes(t)) {
      for (const [label, request] of shapes(route, t.cookie)) {
        count += 1;
        const res = await rawRequest(server.port, request).catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status >= 500 || res.status === 0) failures.push(`${label}: ${res.status} ${res.body.slice(0, 120)}`);
      }
    }
    const logged = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50 || line.length > 2048);
    console.log(`fuzz (${backend.kind}): ${count} requests, ${failures.length} answered 5xx, ${logged.length} error log lines`);
    assert.deepEqual(failures, [], `${failures.length} of ${count} requests answered 5xx`);
    assert.deepEqual(
      logged.map((line) => line.slice(0, 300)),
      [],
      'error log lines',
    );
  });
}

describeEachDatabase('fuzz of every route', suite);
