// The login page's server side: the short link that carries a sign-in to a phone (deep links and QR
// code), what the page shows of the client, and consent whose earlier grant has gone meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { createAgent, followToClient, signIn, startLogin, type Agent } from '../helpers/login.ts';
import { qrDataUrl } from '../../src/http/deep-links.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

describeEachDatabase("the login page's server side", (backend) => {
  let db: TestDatabase;
  let server: TestServer;
  let client: StoredClient;
  before(async () => {
    db = await backend.create();
    server = await startTestServer(db);
    client = await server.addClient({
      client_uri: 'https://rp.example.com',
      policy_uri: 'https://rp.example.com/privacy',
      tos_uri: 'https://rp.example.com/terms',
    });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  const authorizationUrl = (c: StoredClient, extra: Record<string, string> = {}) => {
    const url = new URL('/auth', server.issuer);
    const params = { client_id: c.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid profile', state: 'st', ...PKCE, ...extra };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url;
  };

  it("answers the issuer's own URL with a page naming the service and linking discovery and JWKS, or JSON for a program", async () => {
    const page = await fetch(server.issuer, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<h1>Sign in with your wallet<\/h1>/);
    assert.match(html, /href="\/\.well-known\/openid-configuration"/);
    assert.match(html, /href="\/jwks"/);
    const json = await fetch(server.issuer, { headers: { accept: 'application/json' } });
    assert.deepEqual(await json.json(), { issuer: server.issuer, discovery: `${server.issuer}/.well-known/openid-configuration` });
    for (const link of ['/.well-known/openid-configuration', '/jwks']) assert.equal((await fetch(new URL(link, server.issuer))).status, 200, link);
  });

  it('serves the page modules for revalidation (no-cache), and 304 while they are unchanged', async () => {
    const first = await fetch(new URL('/static/login/api.js', server.issuer));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    assert.match(first.headers.get('content-type') ?? '', /javascript/);
    await first.text();
    const lastModified = first.headers.get('last-modified');
    assert.ok(lastModified);
    const again = await fetch(new URL('/static/login/api.js', server.issuer), {
      // As a browser revalidates; fetch alone would add Cache-Control: no-cache, which asks for the whole file.
      headers: { 'if-modified-since': lastModified, 'cache-control': 'max-age=0' },
    });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
  });

  async function loginPage(agent: Agent, uid: string): Promise<string> {
    const res = await agent.fetch(new URL(`/interaction/${uid}`, server.issuer));
    assert.equal(res.status, 200);
    return res.text();
  }

  describe('the short link to this sign-in (/interaction/:uid/elsewhere)', () => {
    it('is what the wallet deep links and the QR code hold, not the request itself', async () => {
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, authorizationUrl(client));
      const html = await loginPage(agent, uid);
      const short = `${server.issuer}/interaction/${uid}/elsewhere`;
      assert.ok(html.includes(`https://go.cb-w.com/dapp?cb_url=${encodeURIComponent(short)}`));
      assert.ok(html.includes(`https://metamask.app.link/dapp/${short.replace(/^http:\/\//, '')}`));
      assert.ok(html.includes(await qrDataUrl(short)), 'the QR code encodes the short link');
      assert.ok(!html.includes('code_challenge='), "the RP's request appears nowhere on the page");
    });

    it('renders the login page for a request with a 4 kB state (a QR code of the request would not fit)', async () => {
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, authorizationUrl(client, { state: 's'.repeat(4096) }));
      assert.match(await loginPage(agent, uid), /\/elsewhere/);
    });

    it("never gives another device the RP's request: it says to start from the application there (no login CSRF)", async () => {
      const desktop = createAgent(server.issuer);
      const request = authorizationUrl(client, { login_hint: 'someone', nonce: 'n-0S6_WzA2Mj' });
      const uid = await startLogin(desktop, request);
      const attacker = createAgent(server.issuer); // holds the link, not the desktop's cookie
      const res = await attacker.fetch(new URL(`/interaction/${uid}/elsewhere`, server.issuer), { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const html = await res.text();
      assert.match(html, /Continue on this device/);
      assert.ok(html.includes('href="https://rp.example.com"'), "a link to the client's home page");
      for (const secret of [PKCE.code_challenge, 'n-0S6_WzA2Mj', encodeURIComponent(REDIRECT_URI), REDIRECT_URI, '/auth?']) {
        assert.ok(!html.includes(secret), `the page does not carry ${secret}`);
      }
      // Nor can the link holder use the interaction itself: it is bound to the desktop's cookie.
      const challenge = await attacker.fetch(new URL(`/interaction/${uid}/challenge`, server.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ address: Wallet.createRandom().address, chainId: 1 }),
      });
      assert.equal(challenge.status, 400);
      assert.equal(((await challenge.json()) as { error: string }).error, 'interaction_not_found');
    });

    it("sends the other device to the client's initiate_login_uri when it registered one (third-party-initiated login)", async () => {
      const rp = await server.addClient({ initiate_login_uri: 'https://rp.example.com/login?from=wallet-oidc' });
      const uid = await startLogin(createAgent(server.issuer), authorizationUrl(rp));
      const res = await fetch(new URL(`/interaction/${uid}/elsewhere`, server.issuer), { redirect: 'manual' });
      assert.equal(res.status, 302);
      const target = new URL(res.headers.get('location')!);
      assert.equal(target.href, `https://rp.example.com/login?from=wallet-oidc&iss=${encodeURIComponent(server.issuer)}`);
    });

    it('explains a sign-in that has ended or never existed, as a page and as JSON', async () => {
      const page = await fetch(new URL('/interaction/no-such-interaction/elsewhere', server.issuer), { redirect: 'manual' });
      assert.equal(page.status, 400);
      assert.match(page.headers.get('content-type')!, /text\/html/);
      assert.match(await page.text(), /interaction_not_found/);
      const json = await fetch(new URL('/interaction/no-such-interaction/elsewhere', server.issuer), {
        headers: { accept: 'application/json' },
        redirect: 'manual',
      });
      assert.equal(json.status, 400);
      assert.equal(((await json.json()) as { error: string }).error, 'interaction_not_found');
    });
  });

  it("links the client's privacy policy and terms of service on the login page (OpenID Connect Registration)", async () => {
    const agent = createAgent(server.issuer);
    const html = await loginPage(agent, await startLogin(agent, authorizationUrl(client)));
    assert.match(html, /<a href="https:\/\/rp\.example\.com\/privacy"[^>]*>Privacy policy<\/a>/);
    assert.match(html, /<a href="https:\/\/rp\.example\.com\/terms"[^>]*>Terms of service<\/a>/);
    const bare = await server.addClient();
    const other = createAgent(server.issuer);
    assert.doesNotMatch(await loginPage(other, await startLogin(other, authorizationUrl(bare))), />(Privacy policy|Terms of service)<\/a>/);
  });

  it('asks for consent again, and grants it, when the grant it would extend has expired meanwhile', async () => {
    const agent = createAgent(server.issuer);
    const wallet = Wallet.createRandom();
    await followToClient(agent, await signIn(agent, await startLogin(agent, authorizationUrl(client)), wallet));
    // Signed in, with a grant; the RP asks for consent again, and the grant goes before the user answers.
    const again = await agent.fetch(authorizationUrl(client, { prompt: 'consent' }), { redirect: 'manual' });
    const uid = again.headers.get('location')!.split('/').pop()!;
    const interaction = (await server.provider.Interaction.find(uid))!;
    assert.ok(interaction.grantId, 'the consent prompt extends an existing grant');
    await (await server.provider.Grant.find(interaction.grantId))!.destroy();

    const res = await agent.fetch(new URL(`/interaction/${uid}/confirm`, server.issuer), { method: 'POST', redirect: 'manual' });
    assert.equal(res.status, 303);
    const callback = await followToClient(agent, res.headers.get('location')!, { consent: false });
    assert.ok(callback.searchParams.get('code'), `reached the RP with a code: ${callback.href}`);
  });
});
