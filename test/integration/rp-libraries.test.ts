// Independent relying-party libraries (openid-client, oauth4webapi, Auth.js, passport-openidconnect) log a wallet in to the real app.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import * as oauth from 'oauth4webapi';
import { Auth, customFetch, type AuthConfig } from '@auth/core';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import OpenIDConnectStrategy from 'passport-openidconnect';
import makeFetchCookie from 'fetch-cookie';
import { CookieJar } from 'tough-cookie';
import { displayName } from '../../src/oidc/claims.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { createAgent, loginWithWallet, type Agent, type TestWallet } from '../helpers/login.ts';

/** The discovery fields the libraries without discovery (passport-openidconnect) are configured from. */
interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
}

/** Where Auth.js believes it is served; it is invoked in-process with Web Requests and never listens. */
const AUTHJS_ORIGIN = 'https://app.example.com';

async function setup() {
  const server = await startTestServer('memory');
  const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Discovery;

  /** A wallet's login at the provider, from an RP's authorization URL to its callback URL (never fetched here). */
  const login = (authorizationUrl: URL | string, wallet: TestWallet) => loginWithWallet(createAgent(server.issuer), authorizationUrl, wallet);

  /** openid-client configured by discovery for a new client registered with `metadata`. */
  const openidClient = (metadata: Parameters<TestServer['addClient']>[0], auth: (secret: string) => oidc.ClientAuth) =>
    createOpenidClient(server, metadata, auth);

  return { server, discovery, login, openidClient };
}

type Ctx = Awaited<ReturnType<typeof setup>>;

/** Asserts that `promise` rejects with the OAuth error code `error` in its response body. */
async function assertOAuthError(promise: Promise<unknown>, error: string) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof oidc.ResponseBodyError, `expected a ResponseBodyError, got ${String(err)}`);
    assert.equal(err.error, error);
    return true;
  });
}

/** A cookie-jar agent whose "network" is Auth.js itself, called in-process with Web Requests. */
function createAuthjsAgent(config: AuthConfig): Agent {
  const jar = new CookieJar();
  const inProcess = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const response = await Auth(request, config);
    // fetch-cookie stores cookies for response.url, which only a network fetch fills in.
    return Object.defineProperty(response, 'url', { value: request.url });
  };
  return { fetch: makeFetchCookie(inProcess, jar) as unknown as typeof fetch, jar, issuer: AUTHJS_ORIGIN };
}

/**
 * Signs in through Auth.js with its generic OIDC provider. Returns where Auth.js sent the browser,
 * its session cookie and session, what it logged as errors, and what it fetched from the provider.
 */
async function signInWithAuthjs(ctx: Ctx, wallet: TestWallet, provider: { idToken?: boolean } = {}) {
  // Auth.js authenticates at the token endpoint with client_secret_basic unless told otherwise.
  const client = await ctx.server.addClient({
    redirect_uris: [`${AUTHJS_ORIGIN}/auth/callback/wallet`],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const errors: Error[] = [];
  /** What Auth.js fetched from the provider: its own fetch goes through the supported `customFetch` hook. */
  const requests: { url: string; authorization: string | null }[] = [];
  const recordingFetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    requests.push({ url: request.url, authorization: request.headers.get('authorization') });
    return fetch(request);
  };
  const config: AuthConfig = {
    secret: randomBytes(32).toString('hex'),
    trustHost: true,
    basePath: '/auth',
    session: { strategy: 'jwt' },
    providers: [
      {
        id: 'wallet',
        name: 'Wallet',
        type: 'oidc',
        issuer: ctx.server.issuer,
        clientId: client.client_id,
        clientSecret: client.client_secret!,
        checks: ['pkce', 'state', 'nonce'],
        [customFetch]: recordingFetch,
        ...provider,
      },
    ],
    callbacks: {
      // Auth.js gives each sign-in a random user id; the provider's `sub` is account.providerAccountId.
      jwt: ({ token, account }) => (account ? { ...token, address: account.providerAccountId } : token),
      session: ({ session, token }) => ({ ...session, user: { ...session.user, id: String(token.address) } }),
    },
    logger: { error: (err) => errors.push(err) },
  };
  const app = createAuthjsAgent(config);

  const { csrfToken } = (await (await app.fetch(`${AUTHJS_ORIGIN}/auth/csrf`)).json()) as { csrfToken: string };
  const signin = await app.fetch(`${AUTHJS_ORIGIN}/auth/signin/wallet`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${AUTHJS_ORIGIN}/dashboard` }),
  });
  assert.equal(signin.status, 302);
  const authorizationUrl = new URL(signin.headers.get('location')!);
  assert.equal(authorizationUrl.origin + authorizationUrl.pathname, ctx.discovery.authorization_endpoint);
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(authorizationUrl.searchParams.get('nonce'));

  const callback = await ctx.login(authorizationUrl, wallet);
  assert.equal(callback.origin + callback.pathname, `${AUTHJS_ORIGIN}/auth/callback/wallet`);
  const done = await app.fetch(callback, { redirect: 'manual' });
  const sessionResponse = await app.fetch(`${AUTHJS_ORIGIN}/auth/session`);
  return {
    errors,
    requests,
    status: done.status,
    location: done.headers.get('location'),
    sessionCookies: (await app.jar.getCookies(AUTHJS_ORIGIN)).filter((c) => c.key.endsWith('authjs.session-token')),
    session: (await sessionResponse.json()) as { user?: { id?: string; name?: string; email?: string; image?: string } } | null,
  };
}

/** An express 5 app that signs users in with passport-openidconnect, listening on a loopback port. */
async function startPassportApp(ctx: Ctx) {
  const listener = http.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
  const client = await ctx.server.addClient({ redirect_uris: [`${origin}/callback`] });

  /** What the strategy handed to the verify callback, for the test to inspect. */
  const verified: { issuer: string; userinfo: passport.Profile; idToken: passport.Profile }[] = [];
  const strategy = new OpenIDConnectStrategy(
    {
      // No discovery: the endpoints come from our discovery document.
      issuer: ctx.discovery.issuer,
      authorizationURL: ctx.discovery.authorization_endpoint,
      tokenURL: ctx.discovery.token_endpoint,
      userInfoURL: ctx.discovery.userinfo_endpoint,
      clientID: client.client_id,
      clientSecret: client.client_secret!,
      callbackURL: `${origin}/callback`,
      scope: ['profile'],
      // Any value makes the strategy send a random nonce and check it in the ID token.
      nonce: 'on',
    },
    // Nine parameters: the strategy fetches userinfo and passes its profile apart from the ID token's.
    (
      issuer: string,
      userinfo: object,
      idToken: object,
      _context: object,
      _jwt: string | object,
      _at: string | object,
      _rt: string,
      _params: unknown,
      done: OpenIDConnectStrategy.VerifyCallback,
    ) => {
      verified.push({ issuer, userinfo: userinfo as passport.Profile, idToken: idToken as passport.Profile });
      done(null, { id: (userinfo as passport.Profile).id, username: (userinfo as passport.Profile).username });
    },
  );

  const authenticator = new passport.Passport();
  authenticator.use('wallet', strategy);
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express();
  app.use(session({ secret: randomBytes(32).toString('hex'), resave: false, saveUninitialized: false }));
  app.use(authenticator.session());
  app.get('/login', authenticator.authenticate('wallet'));
  app.get('/callback', authenticator.authenticate('wallet', { successRedirect: '/me', failureRedirect: '/failed', failureMessage: true }));
  app.get('/me', (req, res) => {
    if (!req.user) res.status(401).json({ error: 'not signed in' });
    else res.json(req.user);
  });
  app.get('/failed', (req, res) => res.status(403).json({ messages: (req.session as { messages?: string[] }).messages }));
  listener.on('request', app);

  return {
    origin,
    verified,
    close: () => {
      listener.closeAllConnections();
      return new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

// Protocol behaviour, on the in-memory stores: storage has its own suites on PGlite and Postgres.
describe('wallet login through independent relying-party libraries', () => {
  let ctx: Ctx;
  before(async () => {
    ctx = await setup();
  });
  after(async () => {
    await ctx?.server.close();
  });

  it('openid-client completes code + PKCE with client_secret_basic and verifies the ID token signature', async () => {
    const rp = await ctx.openidClient({ token_endpoint_auth_method: 'client_secret_basic' }, oidc.ClientSecretBasic);
    // Verify the ID token's RS256 signature against /jwks too, not only its claims.
    oidc.enableNonRepudiationChecks(rp.config);
    const wallet = Wallet.createRandom();
    const { url, checks } = await rp.authorize();
    const tokens = await oidc.authorizationCodeGrant(rp.config, await ctx.login(url, wallet), checks);
    const claims = tokens.claims()!;
    assert.equal(claims.sub, wallet.address);
    assert.equal(claims.aud, rp.client.client_id);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    assert.equal(userinfo.sub, wallet.address);
    assert.equal(userinfo.preferred_username, wallet.address);
  });

  it('advertises RS256, ES256 and EdDSA for ID tokens, and signs with the alg a client registered', async () => {
    const discovery = (await (await fetch(`${ctx.server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA']);
    for (const alg of ['ES256', 'EdDSA', undefined] as const) {
      const rp = await ctx.openidClient(alg ? { id_token_signed_response_alg: alg } : {}, oidc.ClientSecretPost);
      // openid-client checks the signature against /jwks, and that the alg is the registered one.
      oidc.enableNonRepudiationChecks(rp.config);
      const wallet = Wallet.createRandom();
      const { url, checks } = await rp.authorize();
      const tokens = await oidc.authorizationCodeGrant(rp.config, await ctx.login(url, wallet), checks);
      assert.equal(tokens.claims()!.sub, wallet.address);
      const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { alg: string };
      assert.equal(header.alg, alg ?? 'RS256', 'RS256 stays the default');
    }
  });

  it('openid-client completes code + PKCE as a public client without a secret', async () => {
    const rp = await ctx.openidClient({ token_endpoint_auth_method: 'none' }, () => oidc.None());
    assert.equal(rp.client.client_secret, undefined);
    const wallet = Wallet.createRandom();
    const { url, checks } = await rp.authorize();
    const tokens = await oidc.authorizationCodeGrant(rp.config, await ctx.login(url, wallet), checks);
    assert.equal(tokens.claims()!.sub, wallet.address);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, wallet.address);
    assert.equal(userinfo.sub, wallet.address);
  });

  it('openid-client refreshes a confidential client’s tokens, and the refresh token stays usable', async () => {
    const rp = await ctx.openidClient({ grant_types: ['authorization_code', 'refresh_token'] }, oidc.ClientSecretPost);
    const wallet = Wallet.createRandom();
    const { url, checks } = await rp.authorize({ scope: 'openid profile offline_access', prompt: 'consent' });
    const tokens = await oidc.authorizationCodeGrant(rp.config, await ctx.login(url, wallet), checks);
    const refreshToken = tokens.refresh_token;
    assert.ok(refreshToken, 'a refresh token is issued for offline_access with prompt=consent');

    for (let use = 1; use <= 2; use++) {
      const refreshed = await oidc.refreshTokenGrant(rp.config, refreshToken);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      const userinfo = await oidc.fetchUserInfo(rp.config, refreshed.access_token, wallet.address);
      assert.equal(userinfo.sub, wallet.address, `userinfo after refresh #${use}`);
    }
  });

  it('openid-client rotates a public client’s refresh token, and reusing the old one revokes the grant', async () => {
    const rp = await ctx.openidClient({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }, () => oidc.None());
    const wallet = Wallet.createRandom();
    const { url, checks } = await rp.authorize({ scope: 'openid profile offline_access', prompt: 'consent' });
    const tokens = await oidc.authorizationCodeGrant(rp.config, await ctx.login(url, wallet), checks);
    const first = tokens.refresh_token;
    assert.ok(first, 'a refresh token is issued for offline_access with prompt=consent');

    const refreshed = await oidc.refreshTokenGrant(rp.config, first);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, first, 'the refresh token rotates');
    assert.equal((await oidc.fetchUserInfo(rp.config, refreshed.access_token, wallet.address)).sub, wallet.address);

    await assertOAuthError(oidc.refreshTokenGrant(rp.config, first), 'invalid_grant');
    await assertOAuthError(oidc.refreshTokenGrant(rp.config, refreshed.refresh_token), 'invalid_grant');
    // Revoking the grant takes its access tokens with it.
    await assert.rejects(oidc.fetchUserInfo(rp.config, refreshed.access_token, wallet.address), (err: unknown) => {
      assert.ok(err instanceof oidc.WWWAuthenticateChallengeError, `expected a WWW-Authenticate challenge, got ${String(err)}`);
      assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
      return true;
    });
  });

  it('oauth4webapi completes discovery, code + PKCE + nonce with client_secret_post, and userinfo', async () => {
    const client = await ctx.server.addClient({ token_endpoint_auth_method: 'client_secret_post' });
    const insecure = { [oauth.allowInsecureRequests]: true };
    const issuer = new URL(ctx.server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const rp: oauth.Client = { client_id: client.client_id };

    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: rp.client_id,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).toString();

    const wallet = Wallet.createRandom();
    const params = oauth.validateAuthResponse(as, rp, await ctx.login(url, wallet), state);
    const response = await oauth.authorizationCodeGrantRequest(as, rp, oauth.ClientSecretPost(client.client_secret!), params, REDIRECT_URI, verifier, insecure);
    const result = await oauth.processAuthorizationCodeResponse(as, rp, response, { expectedNonce: nonce, requireIdToken: true });
    await oauth.validateApplicationLevelSignature(as, response, insecure);
    const claims = oauth.getValidatedIdTokenClaims(result)!;
    assert.equal(claims.sub, wallet.address);
    assert.equal(claims.nonce, nonce);

    const userinfo = await oauth.processUserInfoResponse(as, rp, wallet.address, await oauth.userInfoRequest(as, rp, result.access_token, insecure));
    assert.equal(userinfo.sub, wallet.address);
    assert.equal(userinfo.preferred_username, wallet.address);
  });

  for (const { source, idToken } of [
    { source: 'the ID token', idToken: true },
    { source: 'userinfo (idToken: false)', idToken: false },
  ]) {
    it(`Auth.js signs the wallet in with profile claims read from ${source}`, async () => {
      const wallet = Wallet.createRandom();
      const result = await signInWithAuthjs(ctx, wallet, { idToken });
      assert.deepEqual(result.errors, []);
      assert.equal(result.status, 302);
      assert.equal(result.location, `${AUTHJS_ORIGIN}/dashboard`);
      assert.equal(result.sessionCookies.length, 1, 'Auth.js sets a session cookie');
      assert.deepEqual(result.session?.user, { id: wallet.address, name: displayName(wallet.address) });

      const token = result.requests.find((r) => r.url === ctx.discovery.token_endpoint);
      assert.match(token?.authorization ?? '', /^Basic /, 'Auth.js authenticates with client_secret_basic');
      assert.equal(
        result.requests.some((r) => r.url === ctx.discovery.userinfo_endpoint),
        !idToken,
      );
    });
  }

  it('passport-openidconnect signs the wallet in to an express app on a loopback redirect URI', async (t) => {
    const app = await startPassportApp(ctx);
    t.after(app.close);
    const browser = createAgent(app.origin);
    const wallet = Wallet.createRandom();

    const start = await browser.fetch(`${app.origin}/login`, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const authorizationUrl = new URL(start.headers.get('location')!);
    assert.equal(authorizationUrl.origin + authorizationUrl.pathname, ctx.discovery.authorization_endpoint);

    const callback = await ctx.login(authorizationUrl, wallet);
    assert.equal(callback.origin + callback.pathname, `${app.origin}/callback`);
    const finish = await browser.fetch(callback, { redirect: 'manual' });
    assert.equal(finish.status, 302, `callback answered ${finish.status}: ${await finish.clone().text()}`);
    assert.equal(finish.headers.get('location'), '/me');

    assert.equal(app.verified.length, 1);
    const [{ issuer, userinfo, idToken }] = app.verified as [(typeof app.verified)[number]];
    assert.equal(issuer, ctx.server.issuer);
    assert.equal(idToken.id, wallet.address);
    assert.equal(userinfo.id, wallet.address);
    assert.equal(userinfo.username, wallet.address);
    assert.equal(userinfo.displayName, displayName(wallet.address));

    const me = await browser.fetch(`${app.origin}/me`);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { id: wallet.address, username: wallet.address });
  });
});
