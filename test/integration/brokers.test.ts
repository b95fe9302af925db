// The exact requests Auth0, Keycloak and Okta-style brokers send, each checked the way that broker checks the answer.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWTPayload, type JWK } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createAgent, loginWithWallet, postJson, signIn, startLogin, type Agent } from '../helpers/login.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { displayName } from '../../src/oidc/claims.ts';

const AUTH0_CALLBACK = 'https://tenant.auth0.com/login/callback';
const KEYCLOAK_CALLBACK = 'https://keycloak.example.com/realms/main/broker/wallet/endpoint';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  [key: string]: unknown;
}

interface TokenResponse {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  token_type?: string;
  scope?: string;
  error?: string;
  error_description?: string;
}

/** An auto-submitting response_mode=form_post page: where it posts and what. */
interface FormPost {
  action: string;
  fields: Record<string, string>;
}

const decodeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function parseFormPost(html: string): FormPost {
  const action = html.match(/<form method="post" action="([^"]*)"/)?.[1];
  if (action === undefined) throw new Error(`no form_post form in: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)) fields[name!] = decodeHtml(value!);
  return { action: decodeHtml(action), fields };
}

/** OIDC Core §3.3.2.11: c_hash is the left half of the SHA-256 of the code, base64url (RS256). */
const halfHash = (value: string) => createHash('sha256').update(value).digest().subarray(0, 16).toString('base64url');

/** A local HTTP server serving one JWKS, counting requests, as an internal RP's jwks_uri would. */
async function startJwksServer(jwks: { keys: JWK[] }) {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Everything a broker test needs against one running provider. */
async function brokerSide(server: TestServer) {
  const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));

  const authorizationUrl = (client: StoredClient, params: Record<string, string>) => {
    const url = new URL(discovery.authorization_endpoint);
    const all = {
      client_id: client.client_id,
      redirect_uri: client.redirect_uris![0]!,
      response_type: 'code',
      scope: 'openid profile',
      state: randomBytes(8).toString('hex'),
      ...params,
    };
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
    return url;
  };

  /** A user signs in with a fresh wallet; returns the callback URL the browser is sent to. */
  const login = async (client: StoredClient, params: Record<string, string> = {}, wallet = Wallet.createRandom()) => {
    const url = authorizationUrl(client, params);
    const callback = await loginWithWallet(createAgent(server.issuer), url, wallet);
    return { wallet, callback, state: url.searchParams.get('state')! };
  };

  const postForm = async (url: string, params: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: (await res.json()) as TokenResponse };
  };

  /** POST /token for an authorization code, with whatever client authentication the caller adds. */
  const redeem = (client: StoredClient, code: string, auth: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(discovery.token_endpoint, { grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris![0]!, ...auth }, headers);

  const verifyIdToken = async (idToken: string, client: StoredClient, nonce?: string) => {
    const { payload, protectedHeader } = await jwtVerify(idToken, jwks, { issuer: discovery.issuer, audience: client.client_id, algorithms: ['RS256'] });
    assert.equal(protectedHeader.alg, 'RS256');
    if (nonce !== undefined) assert.equal(payload.nonce, nonce);
    return payload as JWTPayload & Record<string, unknown>;
  };

  const userinfo = async (accessToken: string) => {
    const res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  return { server, discovery, authorizationUrl, login, redeem, verifyIdToken, userinfo };
}

/**
 * Follows the login from `redirectTo` through consent to the response_mode=form_post page oidc-provider
 * answers with (200 HTML), as the browser would before auto-submitting it to the broker.
 */
async function followToFormPost(agent: Agent, redirectTo: string): Promise<FormPost> {
  let next = new URL(redirectTo, agent.issuer);
  for (let hops = 0; hops < 10; hops++) {
    const consent = next.pathname.match(/^\/interaction\/([^/]+)$/);
    if (consent) {
      const res = await postJson<{ redirectTo: string }>(agent, `/interaction/${consent[1]}/confirm`, {});
      next = new URL(res.body.redirectTo, agent.issuer);
      continue;
    }
    const res = await agent.fetch(next, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (location) {
      next = new URL(location, next);
      continue;
    }
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    return parseFormPost(await res.text());
  }
  throw new Error('too many redirects');
}

async function setup() {
  // The allow-list lets the provider fetch a jwks_uri on 127.0.0.1; `guarded` keeps the default SSRF guard.
  const open = await startTestServer('memory', { env: { OUTBOUND_PRIVATE_HOSTS: '127.0.0.1' } });
  const guarded = await startTestServer('memory');

  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig' };
  const jwksServer = await startJwksServer({ keys: [publicJwk] });

  /** RFC 7523 §3 client assertion: iss = sub = client_id, aud, jti, exp. */
  const clientAssertion = (clientId: string, aud: string, key: CryptoKey | Uint8Array = privateKey, alg = 'RS256') =>
    new SignJWT({})
      .setProtectedHeader({ alg })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(aud)
      .setJti(randomBytes(16).toString('hex'))
      .setIssuedAt()
      .setExpirationTime('2m')
      .sign(key);

  return {
    broker: await brokerSide(open),
    guardedBroker: await brokerSide(guarded),
    publicJwk,
    jwksServer,
    clientAssertion,
    addClient: (metadata: Partial<ClientMetadata>) => open.addClient(metadata),
    async close() {
      await Promise.allSettled([open.close(), guarded.close(), jwksServer.close()]);
    },
  };
}

// Protocol behaviour, on the in-memory stores: storage has its own suites on PGlite and Postgres.
describe('requests the brokers send', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    t = await setup();
  });
  after(async () => {
    await t?.close();
  });

  describe('Auth0 Enterprise OIDC connection', () => {
    it('answers the front channel (id_token, form_post) with a form to the callback carrying a verifiable ID token with profile claims', async () => {
      const client = await t.addClient({ client_name: 'Auth0', redirect_uris: [AUTH0_CALLBACK], response_types: ['id_token'], grant_types: ['implicit'] });
      const wallet = Wallet.createRandom();
      const nonce = randomBytes(16).toString('hex');
      const state = randomBytes(16).toString('hex');
      const url = t.broker.authorizationUrl(client, { response_type: 'id_token', response_mode: 'form_post', scope: 'openid profile', nonce, state });
      const agent = createAgent(t.broker.server.issuer);
      const form = await followToFormPost(agent, await signIn(agent, await startLogin(agent, url), wallet));

      assert.equal(form.action, AUTH0_CALLBACK);
      assert.equal(form.fields.state, state);
      assert.equal(form.fields.code, undefined);
      const claims = await t.broker.verifyIdToken(form.fields.id_token!, client, nonce);
      // Auth0 never calls userinfo: the ID token itself must carry the profile.
      assert.equal(claims.sub, wallet.address);
      assert.equal(claims.preferred_username, wallet.address);
      assert.equal(claims.name, displayName(wallet.address));
    });

    it('redeems the back-channel code with client_secret_post and no PKCE, and the ID token carries the profile claims', async () => {
      const client = await t.addClient({ client_name: 'Auth0', redirect_uris: [AUTH0_CALLBACK], token_endpoint_auth_method: 'client_secret_post' });
      const nonce = randomBytes(16).toString('hex');
      const { wallet, callback } = await t.broker.login(client, { nonce });
      const res = await t.broker.redeem(client, callback.searchParams.get('code')!, { client_id: client.client_id, client_secret: client.client_secret! });
      assert.equal(res.status, 200);
      const claims = await t.broker.verifyIdToken(res.body.id_token!, client, nonce);
      assert.equal(claims.sub, wallet.address);
      assert.equal(claims.preferred_username, wallet.address);
      assert.equal(claims.name, displayName(wallet.address));
    });

    it('refuses a redemption without the secret or with a wrong one (invalid_client), and takes the secret in a Basic header alike', async () => {
      // oidc-provider 9 treats client_secret_post and client_secret_basic as one method family: a client
      // registered for either may send either. What it enforces is the family (secret, JWT, none).
      const client = await t.addClient({ client_name: 'Auth0', redirect_uris: [AUTH0_CALLBACK], token_endpoint_auth_method: 'client_secret_post' });
      const { wallet, callback } = await t.broker.login(client);
      const code = callback.searchParams.get('code')!;
      const withoutSecret = await t.broker.redeem(client, code, { client_id: client.client_id });
      assert.deepEqual([withoutSecret.status, withoutSecret.body.error], [401, 'invalid_client']);
      const wrongSecret = await t.broker.redeem(client, code, { client_id: client.client_id, client_secret: `${client.client_secret}x` });
      assert.deepEqual([wrongSecret.status, wrongSecret.body.error], [401, 'invalid_client']);
      const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`).toString('base64');
      const accepted = await t.broker.redeem(client, code, {}, { authorization: `Basic ${basic}` });
      assert.equal(accepted.status, 200, 'refused attempts did not burn the code');
      assert.equal((await t.broker.verifyIdToken(accepted.body.id_token!, client)).sub, wallet.address);
    });
  });

  describe('Auth0 custom social connection', () => {
    it('returns the code in the query, and userinfo gives the sub and preferred_username its profile script maps to user_id', async () => {
      const client = await t.addClient({ client_name: 'Auth0 social', redirect_uris: [AUTH0_CALLBACK] });
      const { wallet, callback, state } = await t.broker.login(client);
      assert.equal(callback.origin + callback.pathname, AUTH0_CALLBACK);
      assert.equal(callback.hash, '');
      assert.equal(callback.searchParams.get('state'), state);
      assert.equal(callback.searchParams.get('iss'), t.broker.discovery.issuer);
      const tokens = await t.broker.redeem(client, callback.searchParams.get('code')!, { client_id: client.client_id, client_secret: client.client_secret! });
      assert.equal(tokens.status, 200);
      assert.equal(tokens.body.token_type, 'Bearer');
      const profile = await t.broker.userinfo(tokens.body.access_token!);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.sub, wallet.address);
      assert.equal(profile.body.preferred_username, wallet.address);
    });
  });

  describe('Keycloak identity brokering', () => {
    const keycloakClient = (metadata: Partial<ClientMetadata> = {}) =>
      t.addClient({ client_name: 'Keycloak', redirect_uris: [KEYCLOAK_CALLBACK], token_endpoint_auth_method: 'client_secret_post', ...metadata });

    it('completes code + PKCE S256 with client_secret_post; the ID token verifies through jwks_uri and userinfo has the same sub and a username', async () => {
      const client = await keycloakClient();
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const nonce = randomBytes(16).toString('hex');
      const { wallet, callback } = await t.broker.login(client, { code_challenge: challenge, code_challenge_method: 'S256', nonce });
      const code = callback.searchParams.get('code')!;
      const auth = { client_id: client.client_id, client_secret: client.client_secret! };

      const withoutVerifier = await t.broker.redeem(client, code, auth);
      assert.deepEqual([withoutVerifier.status, withoutVerifier.body.error], [400, 'invalid_grant'], 'the code is bound to the PKCE challenge');
      const { status, body: tokens } = await t.broker.redeem(client, code, { ...auth, code_verifier: verifier });
      assert.equal(status, 200);
      const claims = await t.broker.verifyIdToken(tokens.id_token!, client, nonce);
      const profile = await t.broker.userinfo(tokens.access_token!);
      assert.equal(profile.status, 200);
      assert.equal(profile.body.sub, claims.sub);
      assert.equal(profile.body.sub, wallet.address);
      assert.equal(profile.body.preferred_username, wallet.address);
    });

    it("gives userinfo only sub and wallet_type under Keycloak's default scope openid (configure the IdP's scopes as 'openid profile')", async () => {
      const client = await keycloakClient();
      const { wallet, callback } = await t.broker.login(client, { scope: 'openid' });
      const { body: tokens } = await t.broker.redeem(client, callback.searchParams.get('code')!, {
        client_id: client.client_id,
        client_secret: client.client_secret!,
      });
      const profile = await t.broker.userinfo(tokens.access_token!);
      assert.deepEqual(profile.body, { sub: wallet.address, wallet_type: 'eoa' });
    });

    it('answers code id_token with response_mode=fragment: the fragment carries the code and an ID token whose c_hash matches it', async () => {
      const client = await keycloakClient({ response_types: ['code id_token'], grant_types: ['authorization_code', 'implicit'] });
      const nonce = randomBytes(16).toString('hex');
      const { wallet, callback, state } = await t.broker.login(client, { response_type: 'code id_token', response_mode: 'fragment', nonce });
      assert.equal(callback.search, '');
      const fragment = new URLSearchParams(callback.hash.slice(1));
      const code = fragment.get('code')!;
      assert.ok(code);
      assert.equal(fragment.get('state'), state);
      const claims = await t.broker.verifyIdToken(fragment.get('id_token')!, client, nonce);
      assert.equal(claims.c_hash, halfHash(code));
      assert.equal(claims.sub, wallet.address);
      const tokens = await t.broker.redeem(client, code, { client_id: client.client_id, client_secret: client.client_secret! });
      assert.equal(tokens.status, 200);
      assert.equal((await t.broker.verifyIdToken(tokens.body.id_token!, client, nonce)).sub, wallet.address);
    });
  });

  describe('JWT client authentication (Okta and others)', () => {
    it('accepts private_key_jwt against inline jwks, with aud the token endpoint or the issuer', async () => {
      const client = await t.addClient({ client_name: 'Okta', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [t.publicJwk] } });
      assert.equal(client.client_secret, undefined);
      for (const aud of [t.broker.discovery.token_endpoint, t.broker.discovery.issuer]) {
        const { wallet, callback } = await t.broker.login(client);
        const res = await t.broker.redeem(client, callback.searchParams.get('code')!, {
          client_id: client.client_id,
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await t.clientAssertion(client.client_id, aud),
        });
        assert.equal(res.status, 200, `aud ${aud}: ${JSON.stringify(res.body)}`);
        assert.equal((await t.broker.verifyIdToken(res.body.id_token!, client)).sub, wallet.address);
      }
    });

    it('refuses a client assertion signed by another key, and a replayed one (same jti), with invalid_client', async () => {
      const client = await t.addClient({ client_name: 'Okta', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [t.publicJwk] } });
      const { privateKey: otherKey } = await generateKeyPair('RS256');
      const { callback } = await t.broker.login(client);
      const code = callback.searchParams.get('code')!;
      const assertWith = async (assertion: string) =>
        t.broker.redeem(client, code, { client_id: client.client_id, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });

      const forged = await assertWith(await t.clientAssertion(client.client_id, t.broker.discovery.token_endpoint, otherKey));
      assert.deepEqual([forged.status, forged.body.error], [401, 'invalid_client']);
      const assertion = await t.clientAssertion(client.client_id, t.broker.discovery.token_endpoint);
      assert.equal((await assertWith(assertion)).status, 200);
      const { callback: again } = await t.broker.login(client);
      const replay = await t.broker.redeem(client, again.searchParams.get('code')!, {
        client_id: client.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      });
      assert.deepEqual([replay.status, replay.body.error], [401, 'invalid_client']);
    });

    it('fetches a jwks_uri on 127.0.0.1 when OUTBOUND_PRIVATE_HOSTS lists it', async () => {
      const client = await t.addClient({ client_name: 'Internal RP', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: t.jwksServer.url });
      const hitsBefore = t.jwksServer.hits();
      const { wallet, callback } = await t.broker.login(client);
      const res = await t.broker.redeem(client, callback.searchParams.get('code')!, {
        client_id: client.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await t.clientAssertion(client.client_id, t.broker.discovery.token_endpoint),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await t.broker.verifyIdToken(res.body.id_token!, client)).sub, wallet.address);
      assert.ok(t.jwksServer.hits() > hitsBefore, 'the provider fetched the jwks_uri');
    });

    it('refuses the same jwks_uri client with invalid_client when OUTBOUND_PRIVATE_HOSTS is unset, never reaching the loopback server', async () => {
      const guarded = t.guardedBroker;
      const client = await guarded.server.addClient({ client_name: 'Internal RP', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: t.jwksServer.url });
      const hitsBefore = t.jwksServer.hits();
      const { callback } = await guarded.login(client);
      const res = await guarded.redeem(client, callback.searchParams.get('code')!, {
        client_id: client.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await t.clientAssertion(client.client_id, guarded.discovery.token_endpoint),
      });
      assert.deepEqual([res.status, res.body.error], [401, 'invalid_client']);
      assert.equal(t.jwksServer.hits(), hitsBefore, 'the SSRF guard stopped the request');
    });

    it('accepts client_secret_jwt: HS256 over the client secret', async () => {
      const client = await t.addClient({ client_name: 'Okta', token_endpoint_auth_method: 'client_secret_jwt' });
      const { wallet, callback } = await t.broker.login(client);
      const code = callback.searchParams.get('code')!;
      const key = new TextEncoder().encode(client.client_secret!);
      const wrong = await t.broker.redeem(client, code, {
        client_id: client.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await t.clientAssertion(
          client.client_id,
          t.broker.discovery.token_endpoint,
          new TextEncoder().encode(`${client.client_secret}x`),
          'HS256',
        ),
      });
      assert.deepEqual([wrong.status, wrong.body.error], [401, 'invalid_client']);
      const res = await t.broker.redeem(client, code, {
        client_id: client.client_id,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await t.clientAssertion(client.client_id, t.broker.discovery.token_endpoint, key, 'HS256'),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await t.broker.verifyIdToken(res.body.id_token!, client)).sub, wallet.address);
    });
  });

  describe('discovery', () => {
    it('advertises exactly the response types, modes, auth methods, grants, scopes and PKCE method that work', () => {
      const d = t.broker.discovery;
      const sorted = (v: unknown) => [...(v as string[])].sort();
      assert.deepEqual(sorted(d.response_types_supported), ['code', 'code id_token', 'id_token']);
      assert.deepEqual(sorted(d.response_modes_supported), ['form_post', 'fragment', 'query']);
      assert.deepEqual(sorted(d.token_endpoint_auth_methods_supported), [
        'client_secret_basic',
        'client_secret_jwt',
        'client_secret_post',
        'none',
        'private_key_jwt',
      ]);
      assert.deepEqual(sorted(d.grant_types_supported), ['authorization_code', 'implicit', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']);
      assert.deepEqual(sorted(d.scopes_supported), ['offline_access', 'openid', 'profile']);
      assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(d.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA']);
      assert.equal(d.introspection_endpoint, `${d.issuer}/token/introspection`);
      assert.equal(d.revocation_endpoint, `${d.issuer}/token/revocation`);
      assert.equal(d.end_session_endpoint, `${d.issuer}/session/end`);
      assert.equal(d.device_authorization_endpoint, `${d.issuer}/device/auth`);
      assert.equal(d.backchannel_logout_supported, true);
      assert.equal(d.backchannel_logout_session_supported, true);
    });

    it('advertises nothing it does not offer: no request_uri, PAR, DPoP or registration', () => {
      const d = t.broker.discovery;
      assert.notEqual(d.request_uri_parameter_supported, true);
      assert.notEqual(d.request_parameter_supported, true);
      for (const key of ['pushed_authorization_request_endpoint', 'dpop_signing_alg_values_supported', 'registration_endpoint']) {
        assert.equal(d[key], undefined, key);
      }
    });

    it('refuses what it does not advertise: a plain PKCE challenge and a request_uri', async () => {
      const client = await t.addClient({ client_name: 'Probe' });
      const agent = createAgent(t.broker.server.issuer);
      const errorOf = async (params: Record<string, string>) => {
        const res = await agent.fetch(t.broker.authorizationUrl(client, params), { redirect: 'manual' });
        return new URL(res.headers.get('location')!).searchParams.get('error');
      };
      assert.equal(await errorOf({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }), 'invalid_request');
      assert.equal(await errorOf({ request_uri: 'https://rp.example.com/request.jwt' }), 'request_uri_not_supported');
    });
  });
});
