// Sessions and tokens after the wallet login: SSO and prompts, refresh tokens, revocation, introspection, logout.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wallet } from 'ethers';
import type { ClientMetadata } from 'oidc-provider';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { createAgent, followToClient, requestChallenge, startLogin } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';

const POST_LOGOUT_URI = 'https://rp.example.com/logged-out';
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A loopback HTTP server that records every request, as an RP's back-channel logout endpoint. */
async function startReceiver() {
  const received: { path: string; contentType: string | undefined; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url!, contentType: req.headers['content-type'], body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function setup() {
  const receiver = await startReceiver();
  // The allow-list lets back-channel logouts reach 127.0.0.1; `guarded` keeps oidc-provider's SSRF guard.
  const open = await startTestServer('memory', { env: { OUTBOUND_PRIVATE_HOSTS: '127.0.0.1' } });
  const guarded = await startTestServer('memory');
  const add = (server: TestServer, metadata: Partial<ClientMetadata> = {}) => server.addClient({ client_name: 'Test RP', ...metadata });
  const withRefresh = { grant_types: ['authorization_code', 'refresh_token'] };

  return {
    rp: relyingParty(open),
    guardedRp: relyingParty(guarded),
    receiver,
    clients: {
      confidential: await add(open),
      other: await add(open, { client_name: 'Other RP' }),
      offline: await add(open, withRefresh),
      public: await add(open, { ...withRefresh, token_endpoint_auth_method: 'none' }),
      resourceServer: await add(open, { client_name: 'API', redirect_uris: [], response_types: [], grant_types: [], resource_server: true }),
      loggingOut: await add(open, { post_logout_redirect_uris: [POST_LOGOUT_URI] }),
    },
    addClient: (metadata: Partial<ClientMetadata> = {}) => add(open, metadata),
    addGuardedClient: (metadata: Partial<ClientMetadata> = {}) => add(guarded, metadata),
    async close() {
      await Promise.allSettled([open.close(), guarded.close(), receiver.close()]);
    },
  };
}

// Protocol behaviour, on the in-memory stores: storage has its own suites on PGlite and Postgres.
describe('sessions and tokens', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    t = await setup();
  });
  after(async () => {
    await t?.close();
  });

  describe('single sign-on and prompts', () => {
    it("signs the user in to a second client from the session: no challenge, no signature, the first login's auth_time", async () => {
      // max_age makes both ID tokens carry auth_time (OIDC Core §2).
      const first = await t.rp.signIn(t.clients.confidential, { params: { max_age: '3600' } });
      assert.equal(typeof first.idToken.auth_time, 'number');
      const second = await t.addClient({ client_name: 'Second RP' });
      const { url, verifier } = t.rp.authorization(second, { max_age: '3600' });
      const callback = await followToClient(first.agent, url.href);
      const tokens = await t.rp.redeem(second, callback, verifier);
      const { payload } = await t.rp.verifyJwt(tokens.id_token!, second.client_id);
      assert.equal(payload.sub, first.wallet.address);
      assert.equal(payload.auth_time, first.idToken.auth_time);
      assert.equal(await t.rp.loginRows(second.client_id), 0, 'no siwe_nonces or login_events row for the second client');
    });

    it('asks for a new signature on prompt=login although a session exists', async () => {
      const { agent } = await t.rp.signIn(t.clients.confidential);
      const uid = await startLogin(agent, t.rp.authorization(t.clients.confidential, { prompt: 'login' }).url);
      const page = await agent.fetch(new URL(`/interaction/${uid}`, t.rp.server.issuer));
      assert.match(await page.text(), /<title>Sign in with your wallet/);
      const challenge = await requestChallenge(agent, uid, Wallet.createRandom().address);
      assert.ok(challenge.message);
    });

    it('answers prompt=none with login_required without a session, and with a code when one exists', async () => {
      const { url, state } = t.rp.authorization(t.clients.confidential, { prompt: 'none' });
      const refused = await t.rp.authorize(createAgent(t.rp.server.issuer), url);
      assert.equal(refused.origin + refused.pathname, REDIRECT_URI);
      assert.equal(refused.searchParams.get('error'), 'login_required');
      assert.equal(refused.searchParams.get('state'), state);

      const { agent } = await t.rp.signIn(t.clients.confidential);
      const silent = await t.rp.authorize(agent, t.rp.authorization(t.clients.confidential, { prompt: 'none' }).url);
      assert.equal(silent.origin + silent.pathname, REDIRECT_URI);
      assert.ok(silent.searchParams.get('code'), silent.href);
    });

    it('asks for a new signature once the session is older than max_age, and not before', async () => {
      const { agent, idToken } = await t.rp.signIn(t.clients.confidential, { params: { max_age: '3600' } });
      const authTime = idToken.auth_time!;
      assert.equal(typeof authTime, 'number');
      const fresh = await t.rp.authorize(agent, t.rp.authorization(t.clients.confidential, { max_age: '3600' }).url);
      assert.ok(fresh.searchParams.get('code'), `within max_age: ${fresh.href}`);
      // oidc-provider compares whole seconds: wait until auth_time is more than one second old.
      await sleep(Math.max(0, (authTime + 2) * 1000 - Date.now()) + 50);
      const uid = await startLogin(agent, t.rp.authorization(t.clients.confidential, { max_age: '1' }).url);
      const challenge = await requestChallenge(agent, uid, Wallet.createRandom().address);
      assert.ok(challenge.message, 'the interaction is at the login step');
    });
  });

  describe('refresh tokens', () => {
    const offlineScope = { scope: 'openid profile offline_access', prompt: 'consent' };

    it("issues a refresh token for offline_access with prompt=consent, and a confidential client's is not rotated", async () => {
      const client = t.clients.offline;
      const { wallet, tokens } = await t.rp.signIn(client, { params: offlineScope });
      assert.ok(tokens.refresh_token);
      assert.match(tokens.scope!, /\boffline_access\b/);
      for (let i = 0; i < 2; i++) {
        const refreshed = await t.rp.refresh(client, tokens.refresh_token);
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        assert.notEqual(refreshed.body.access_token, tokens.access_token);
        assert.equal(refreshed.body.refresh_token, tokens.refresh_token, 'the same refresh token comes back');
        assert.equal((await t.rp.verifyJwt(refreshed.body.id_token!, client.client_id)).payload.sub, wallet.address);
        assert.equal(await t.rp.userinfoStatus(refreshed.body.access_token!), 200);
      }
    });

    it('drops offline_access and issues no refresh token without prompt=consent', async () => {
      const { tokens } = await t.rp.signIn(t.clients.offline, { params: { scope: 'openid profile offline_access' } });
      assert.equal(tokens.refresh_token, undefined);
      assert.doesNotMatch(tokens.scope!, /offline_access/);
    });

    it("rotates a public client's refresh token, and reuse of a rotated one revokes the grant", async () => {
      const client = t.clients.public;
      const { tokens } = await t.rp.signIn(client, { params: offlineScope });
      const first = tokens.refresh_token!;
      const rotated = await t.rp.refresh(client, first);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const second = rotated.body.refresh_token!;
      assert.ok(second);
      assert.notEqual(second, first);
      assert.equal(await t.rp.userinfoStatus(rotated.body.access_token!), 200);

      const reuse = await t.rp.refresh(client, first);
      assert.deepEqual([reuse.status, reuse.body.error], [400, 'invalid_grant']);
      const afterReuse = await t.rp.refresh(client, second);
      assert.deepEqual([afterReuse.status, afterReuse.body.error], [400, 'invalid_grant'], 'the newest refresh token died with the grant');
      assert.equal(await t.rp.userinfoStatus(rotated.body.access_token!), 401, 'and so did the newest access token');
    });
  });

  describe('revocation', () => {
    it('revokes an access token: userinfo then answers 401', async () => {
      const client = t.clients.confidential;
      const { tokens } = await t.rp.signIn(client);
      assert.equal(await t.rp.userinfoStatus(tokens.access_token!), 200);
      assert.equal((await t.rp.revoke(client, tokens.access_token!)).status, 200);
      assert.equal(await t.rp.userinfoStatus(tokens.access_token!), 401);
    });

    it('revokes a refresh token: the refresh grant then fails with invalid_grant', async () => {
      const client = t.clients.offline;
      const { tokens } = await t.rp.signIn(client, { params: { scope: 'openid offline_access', prompt: 'consent' } });
      assert.equal((await t.rp.refresh(client, tokens.refresh_token!)).status, 200);
      assert.equal((await t.rp.revoke(client, tokens.refresh_token!, 'refresh_token')).status, 200);
      const res = await t.rp.refresh(client, tokens.refresh_token!);
      assert.deepEqual([res.status, res.body.error], [400, 'invalid_grant']);
    });

    it("does not revoke another client's token (answering 200 as RFC 7009 §2.2 asks)", async () => {
      const { tokens } = await t.rp.signIn(t.clients.confidential);
      assert.equal((await t.rp.revoke(t.clients.other, tokens.access_token!)).status, 200);
      assert.equal(await t.rp.userinfoStatus(tokens.access_token!), 200);
    });
  });

  describe('introspection', () => {
    it("tells a resource server a user's access token is active, with the wallet address as sub and the client's id", async () => {
      const { wallet, tokens } = await t.rp.signIn(t.clients.confidential);
      const res = await t.rp.introspect(t.clients.resourceServer, tokens.access_token!);
      assert.equal(res.status, 200);
      assert.equal(res.body.active, true);
      assert.equal(res.body.sub, wallet.address);
      assert.equal(res.body.client_id, t.clients.confidential.client_id);
      assert.equal(res.body.iss, t.rp.server.issuer);
      assert.equal(res.body.token_type, 'Bearer');
    });

    it('tells it active false once the token is revoked', async () => {
      const { tokens } = await t.rp.signIn(t.clients.confidential);
      assert.equal((await t.rp.introspect(t.clients.resourceServer, tokens.access_token!)).body.active, true);
      await t.rp.revoke(t.clients.confidential, tokens.access_token!);
      assert.deepEqual((await t.rp.introspect(t.clients.resourceServer, tokens.access_token!)).body, { active: false });
    });

    it("lets a confidential client without resource_server introspect only its own tokens, not another RP's", async () => {
      const { tokens: others } = await t.rp.signIn(t.clients.confidential);
      assert.deepEqual((await t.rp.introspect(t.clients.other, others.access_token!)).body, { active: false });
      const { tokens: own } = await t.rp.signIn(t.clients.other);
      assert.equal((await t.rp.introspect(t.clients.other, own.access_token!)).body.active, true);
    });

    it("lets a public client introspect only its own tokens, not another client's", async () => {
      const { tokens: others } = await t.rp.signIn(t.clients.confidential);
      assert.deepEqual((await t.rp.introspect(t.clients.public, others.access_token!)).body, { active: false });
      const { tokens: own } = await t.rp.signIn(t.clients.public);
      assert.equal((await t.rp.introspect(t.clients.public, own.access_token!)).body.active, true);
    });
  });

  describe('RP-initiated logout', () => {
    it('confirms on our page, then ends the session and returns to the registered post_logout_redirect_uri with state', async () => {
      const client = t.clients.loggingOut;
      const { agent, tokens } = await t.rp.signIn(client);
      const { page, html, form, confirm } = await t.rp.logout(agent, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: POST_LOGOUT_URI,
        state: 'bye',
      });
      assert.equal(page.status, 200);
      assert.match(html, /<title>Sign out · wallet-oidc<\/title>/);
      assert.equal(form!.action, `${t.rp.server.issuer}/session/end/confirm`);
      assert.ok(form!.fields.xsrf, 'the form carries an xsrf token');
      // Browsers apply form-action to the redirect after the post: it must allow the RP's origin.
      assert.match(page.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/rp\.example\.com/);

      assert.equal(confirm!.status, 303);
      assert.equal(confirm!.headers.get('location'), `${POST_LOGOUT_URI}?state=bye`);
      const silent = await t.rp.authorize(agent, t.rp.authorization(client, { prompt: 'none' }).url);
      assert.equal(silent.searchParams.get('error'), 'login_required', 'the session is gone');
    });

    it('sends a browser without a session straight back, without a confirm form or a cookie', async () => {
      const { issuer } = t.rp.server;
      const client = t.clients.loggingOut;
      const logout = (params: Record<string, string>, agent = createAgent(issuer)) =>
        agent.fetch(`${issuer}/session/end?${new URLSearchParams(params)}`, { redirect: 'manual' });
      const back = await logout({ client_id: client.client_id, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye' });
      assert.equal(back.status, 303);
      assert.equal(back.headers.get('location'), `${POST_LOGOUT_URI}?state=bye`);
      assert.equal(back.headers.get('set-cookie'), null);
      const success = await logout({});
      assert.equal(success.headers.get('location'), `${issuer}/session/end/success`);
      // Still validated by oidc-provider first.
      assert.equal((await logout({ client_id: client.client_id, post_logout_redirect_uri: 'https://attacker.example/' })).status, 400);

      // A browser whose session has ended (its cookie names nothing any more) is sent back the same way.
      const { agent, tokens } = await t.rp.signIn(client);
      assert.equal((await t.rp.logout(agent, { id_token_hint: tokens.id_token! })).confirm!.status, 303);
      const again = await logout({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT_URI }, agent);
      assert.equal(again.status, 303);
      assert.equal(again.headers.get('location'), POST_LOGOUT_URI);
    });

    it('refuses a post_logout_redirect_uri the client did not register, keeping the session', async () => {
      const client = t.clients.loggingOut;
      const { agent, tokens } = await t.rp.signIn(client);
      const { page, html } = await t.rp.logout(agent, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://attacker.example/' });
      assert.equal(page.status, 400);
      assert.match(html, /invalid_request/);
      const silent = await t.rp.authorize(agent, t.rp.authorization(client, { prompt: 'none' }).url);
      assert.ok(silent.searchParams.get('code'), silent.href);
    });
  });

  describe('back-channel logout', () => {
    const backchannelClient = (register: typeof t.addClient, path: string) =>
      register({ backchannel_logout_uri: t.receiver.url(path), backchannel_logout_session_required: true });

    it("posts a logout token to the client's backchannel_logout_uri when the user logs out", async () => {
      const client = await backchannelClient(t.addClient, '/open');
      const { wallet, agent, tokens, idToken } = await t.rp.signIn(client);
      const { confirm } = await t.rp.logout(agent, { id_token_hint: tokens.id_token! });
      assert.equal(confirm!.status, 303);

      const [delivery, ...more] = t.receiver.at('/open');
      assert.equal(more.length, 0);
      assert.equal(delivery!.contentType, 'application/x-www-form-urlencoded');
      const logoutToken = new URLSearchParams(delivery!.body).get('logout_token')!;
      const { payload, protectedHeader } = await t.rp.verifyJwt(logoutToken, client.client_id);
      assert.equal(protectedHeader.typ, 'logout+jwt');
      assert.equal(payload.sub, wallet.address);
      assert.ok(payload.sid);
      assert.equal(payload.sid, idToken.sid, "the sid of the user's ID token");
      assert.deepEqual(payload.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} });
      assert.ok(payload.jti);
      assert.equal(payload.nonce, undefined);
    });

    it('sends nothing to a loopback backchannel_logout_uri when OUTBOUND_PRIVATE_HOSTS is unset', async () => {
      const client = await backchannelClient(t.addGuardedClient, '/guarded');
      const { agent, tokens } = await t.guardedRp.signIn(client);
      // oidc-provider awaits the back-channel requests before it answers the logout, so both events are in by then.
      const outcomes: string[] = [];
      const { provider } = t.guardedRp.server;
      const onSuccess = () => outcomes.push('success');
      const onError = () => outcomes.push('error');
      provider.on('backchannel.success', onSuccess).on('backchannel.error', onError);
      try {
        const { confirm } = await t.guardedRp.logout(agent, { id_token_hint: tokens.id_token! });
        assert.equal(confirm!.status, 303);
      } finally {
        provider.off('backchannel.success', onSuccess).off('backchannel.error', onError);
      }
      assert.deepEqual(outcomes, ['error']);
      assert.deepEqual(t.receiver.at('/guarded'), []);
    });
  });
});
