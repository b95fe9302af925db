// The login page's server side: the link that carries a sign-in to a phone (deep links and QR code; the
// rest of it is handoff.test.ts), what the page shows of the client, and consent whose earlier grant has gone meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { createAgent, followToClient, postJson, signIn, startLogin, type Agent } from '../helpers/login.ts';
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

  /** The desktop asks for a link to sign on a phone (http/handoffs.ts), as its page does when the phone section opens. */
  async function handoffOffer(agent: Agent, uid: string) {
    const res = await postJson<{ link: string; code: string; qr: string; deepLinks: { wallet: string; href: string }[] }>(
      agent,
      `/interaction/${uid}/handoff`,
      {},
    );
    assert.equal(res.status, 201);
    return res.body;
  }

  describe('the link for signing on a phone (/handoff/:secret)', () => {
    it('is what the wallet deep links and the QR code hold, made when asked; the login page holds neither it nor the request', async () => {
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, authorizationUrl(client));
      const html = await loginPage(agent, uid);
      assert.ok(!html.includes('/handoff/'), 'no link until the page asks for one');
      assert.ok(!html.includes('code_challenge='), "the RP's request appears nowhere on the page");
      const { link, qr, deepLinks } = await handoffOffer(agent, uid);
      assert.match(link, new RegExp(`^${server.issuer}/handoff/[A-Za-z0-9_-]{43}$`));
      assert.equal(qr, await qrDataUrl(link), 'the QR code encodes the link');
      assert.deepEqual(
        deepLinks.map((d) => d.href),
        [
          `https://metamask.app.link/dapp/${link.replace(/^http:\/\//, '')}`,
          `https://go.cb-w.com/dapp?cb_url=${encodeURIComponent(link)}`,
          `https://rnbwapp.com/dapp?url=${encodeURIComponent(link)}`,
          `https://link.trustwallet.com/open_url?coin_id=60&url=${encodeURIComponent(link)}`,
        ],
      );
    });

    it('stays as short for a request with a 4 kB state (a QR code of the request would not fit)', async () => {
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, authorizationUrl(client, { state: 's'.repeat(4096) }));
      await loginPage(agent, uid);
      const { link, qr } = await handoffOffer(agent, uid);
      assert.equal(link.length, `${server.issuer}/handoff/`.length + 43);
      assert.equal(qr, await qrDataUrl(link));
    });

    it("never gives the phone the RP's request, nor the desktop's interaction (no login CSRF)", async () => {
      const desktop = createAgent(server.issuer);
      const uid = await startLogin(desktop, authorizationUrl(client, { login_hint: 'hint-7Qx9', nonce: 'n-0S6_WzA2Mj' }));
      const { link } = await handoffOffer(desktop, uid);
      const phone = createAgent(server.issuer); // holds the link, not the desktop's cookie
      const res = await phone.fetch(link, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const html = await res.text();
      assert.ok(html.includes('href="https://rp.example.com"'), "a link to the client's home page");
      for (const secret of [uid, PKCE.code_challenge, 'n-0S6_WzA2Mj', 'hint-7Qx9', encodeURIComponent(REDIRECT_URI), REDIRECT_URI, '/auth?', '/interaction/']) {
        assert.ok(!html.includes(secret), `the page does not carry ${secret}`);
      }
      // Nor can the link holder use the interaction itself: it is bound to the desktop's cookie.
      const challenge = await postJson<{ error: string }>(phone, `/interaction/${uid}/challenge`, { address: Wallet.createRandom().address, chainId: 1 });
      assert.deepEqual([challenge.status, challenge.body.error], [400, 'interaction_not_found']);
    });

    it('explains a link that is malformed, unknown or whose sign-in has ended, as a page and as JSON', async () => {
      const phone = createAgent(server.issuer);
      for (const bad of [`${server.issuer}/handoff/x`, `${server.issuer}/handoff/${'A'.repeat(43)}`]) {
        const page = await phone.fetch(bad, { redirect: 'manual' });
        assert.equal(page.status, 404, bad);
        assert.match(page.headers.get('content-type')!, /text\/html/);
        assert.match(await page.text(), /handoff_not_found/);
        const json = await postJson<{ error: string }>(phone, `${new URL(bad).pathname}/challenge`, { address: Wallet.createRandom().address, chainId: 1 });
        assert.deepEqual([json.status, json.body.error], [404, 'handoff_not_found'], bad);
      }
      // The desktop cancels (its result is saved; the browser has not gone back to the RP yet): the link leads nowhere.
      const desktop = createAgent(server.issuer);
      const uid = await startLogin(desktop, authorizationUrl(client));
      const { link } = await handoffOffer(desktop, uid);
      assert.equal((await desktop.fetch(new URL(`/interaction/${uid}/abort`, server.issuer), { redirect: 'manual' })).status, 303);
      const ended = await phone.fetch(link, { redirect: 'manual' });
      assert.equal(ended.status, 409);
      assert.match(await ended.text(), /<code>wrong_prompt<\/code>/);
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
