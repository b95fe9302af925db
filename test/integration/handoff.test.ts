// Signing on another device (http/handoffs.ts), through the HTTP contract with two cookie jars: a desktop that starts
// the login at a real relying party (openid-client: PKCE, state, nonce) and a phone that opens the handoff link and
// signs with a real wallet. The desktop ends at the RP with a code only its own cookies could get; the link is
// single-use, under concurrency too; nothing of the RP's request reaches the link or the phone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { createAgent, followToClient, postJson, requestChallenge, startLogin, type Agent } from '../helpers/login.ts';
import { describeEachDatabase, describeOnPostgres, type TestDatabase } from '../helpers/db.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const HANDOFF_TTL = 120;

interface Offer {
  link: string;
  code: string;
  expiresAt: string;
  qr: string;
  deepLinks: { wallet: string; href: string }[];
}
type Status = { status: string; code?: string; redirectTo?: string; error?: string };

const offer = (desktop: Agent, uid: string) => postJson<Offer & { error?: string }>(desktop, `/interaction/${uid}/handoff`, {});

async function status(desktop: Agent, uid: string): Promise<{ status: number; body: Status }> {
  const res = await desktop.fetch(new URL(`/interaction/${uid}/handoff`, desktop.issuer), { headers: { accept: 'application/json' } });
  return { status: res.status, body: (await res.json()) as Status };
}

/** The phone's side of the contract, on the path the link names. */
const phoneApi = (link: string) => new URL(link).pathname;
const phoneChallenge = (phone: Agent, link: string, address: string, chainId = 1) =>
  postJson<{ message: string; error?: string }>(phone, `${phoneApi(link)}/challenge`, { address, chainId });
const phoneVerify = (phone: Agent, link: string, message: string, signature: string) =>
  postJson<{ continuesOn?: string; error?: string }>(phone, `${phoneApi(link)}/verify`, { message, signature });

async function openPage(agent: Agent, link: string): Promise<{ status: number; html: string }> {
  const res = await agent.fetch(link, { headers: { accept: 'text/html' } });
  return { status: res.status, html: await res.text() };
}

function suite(start: (clock: () => Date) => Promise<{ server: TestServer; stop(): Promise<void> }>) {
  let server: TestServer;
  let stop: () => Promise<void>;
  let offsetMs = 0;
  let rp: Awaited<ReturnType<typeof createOpenidClient>>;
  before(async () => {
    ({ server, stop } = await start(() => new Date(Date.now() + offsetMs)));
    rp = await createOpenidClient(server, { skip_consent: true, client_name: 'Handoff RP' });
  });
  after(() => stop());

  /** A desktop at the login step of a fresh authorization request, and that request. */
  async function desktopLogin() {
    const desktop = createAgent(server.issuer);
    const request = await rp.authorize();
    const uid = await startLogin(desktop, request.url);
    return { desktop, uid, request };
  }

  it('lets a phone sign the desktop login, which then ends at the RP with the desktop cookies only', async () => {
    const { desktop, uid, request } = await desktopLogin();
    const handed = await offer(desktop, uid);
    assert.equal(handed.status, 201);
    const { link, code } = handed.body;
    assert.match(code, /^\d{3} \d{3}$/);
    assert.match(handed.body.qr, /^data:image\/svg\+xml;base64,/);
    assert.ok(handed.body.deepLinks.every((d) => d.href.includes(encodeURIComponent(link)) || d.href.includes(link.replace(/^https?:\/\//, ''))));
    // The link carries a secret of its own: not the interaction, nothing of the RP's request.
    const params = request.url.searchParams;
    for (const secret of [uid, params.get('state')!, params.get('nonce')!, params.get('code_challenge')!, params.get('redirect_uri')!]) {
      assert.ok(!link.includes(secret) && !link.includes(encodeURIComponent(secret)), `the link holds ${secret}`);
    }
    assert.deepEqual((await status(desktop, uid)).body, { status: 'waiting' });

    const phone = createAgent(server.issuer);
    const page = await openPage(phone, link);
    assert.equal(page.status, 200);
    assert.ok(page.html.includes(code), 'the phone page shows the confirmation code');
    assert.ok(page.html.includes('Handoff RP'), 'the phone page names the application');
    for (const secret of [uid, params.get('state')!, params.get('nonce')!, params.get('code_challenge')!]) {
      assert.ok(!page.html.includes(secret), `the phone page holds ${secret}`);
    }
    // Opening the page claims nothing: link previews fetch it too.
    assert.deepEqual((await status(desktop, uid)).body, { status: 'waiting' });

    const wallet = Wallet.createRandom();
    const challenge = await phoneChallenge(phone, link, wallet.address);
    assert.equal(challenge.status, 200, JSON.stringify(challenge.body));
    for (const secret of [params.get('state')!, params.get('nonce')!, params.get('code_challenge')!]) {
      assert.ok(!challenge.body.message.includes(secret), `the message holds ${secret}`);
    }
    assert.deepEqual((await status(desktop, uid)).body, { status: 'opened', code });
    const verified = await phoneVerify(phone, link, challenge.body.message, await wallet.signMessage(challenge.body.message));
    assert.deepEqual([verified.status, verified.body], [200, { continuesOn: 'computer' }]);

    const signed = await status(desktop, uid);
    assert.equal(signed.body.status, 'signed');
    // The phone holds none of the desktop's cookies: the resume URL gives it nothing.
    const stolen = await phone.fetch(new URL(signed.body.redirectTo!, server.issuer), { redirect: 'manual' });
    assert.ok(!stolen.headers.get('location')?.startsWith(rp.client.redirect_uris![0]!), 'the phone cannot finish the login');

    const callback = await followToClient(desktop, signed.body.redirectTo!, { consent: false });
    const tokens = await oidc.authorizationCodeGrant(rp.config, callback, request.checks);
    assert.equal(tokens.claims()!.sub, wallet.address);

    // The audit trail says the login was signed on another device, with that device's user agent.
    const [event] = await server.ctx.stores.loginEvents.list({ outcome: 'success', address: wallet.address, limit: 1 });
    assert.equal(event?.handoff, true);
    assert.equal(event?.interactionUid, uid);
  });

  it('refuses a second device once one has asked for a message, on the page and in the contract', async () => {
    const { desktop, uid } = await desktopLogin();
    const { link } = (await offer(desktop, uid)).body;
    const first = createAgent(server.issuer);
    assert.equal((await phoneChallenge(first, link, Wallet.createRandom().address)).status, 200);
    const second = createAgent(server.issuer);
    assert.equal((await openPage(second, link)).status, 409);
    const refused = await phoneChallenge(second, link, Wallet.createRandom().address);
    assert.deepEqual([refused.status, refused.body.error], [409, 'handoff_taken']);
    // The first device keeps it: its page and a second challenge still work.
    assert.equal((await openPage(first, link)).status, 200);
    assert.equal((await phoneChallenge(first, link, Wallet.createRandom().address)).status, 200);
  });

  it('lets exactly one of 8 devices claim a link when they race', async () => {
    const { desktop, uid } = await desktopLogin();
    const { link } = (await offer(desktop, uid)).body;
    const answers = await Promise.all(Array.from({ length: 8 }, () => phoneChallenge(createAgent(server.issuer), link, Wallet.createRandom().address)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    assert.ok(answers.filter((a) => a.status === 409).every((a) => a.body.error === 'handoff_taken'));
  });

  it('signs in once through a link: of two signed messages sent at once, one wins; the link is then used up', async () => {
    const { desktop, uid } = await desktopLogin();
    const { link } = (await offer(desktop, uid)).body;
    const phone = createAgent(server.issuer);
    const wallet = Wallet.createRandom();
    const messages = [(await phoneChallenge(phone, link, wallet.address)).body.message, (await phoneChallenge(phone, link, wallet.address)).body.message];
    const signed = await Promise.all(messages.map(async (m) => ({ message: m, signature: await wallet.signMessage(m) })));
    const answers = await Promise.all(signed.map((s) => phoneVerify(phone, link, s.message, s.signature)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
    assert.equal(answers.find((a) => a.status === 409)?.body.error, 'handoff_used');
    // Used: no page, no challenge.
    assert.equal((await openPage(phone, link)).status, 409);
    assert.equal((await phoneChallenge(phone, link, wallet.address)).body.error, 'handoff_used');
    assert.equal((await status(desktop, uid)).body.status, 'signed');
  });

  it('expires a link nobody opened in time, on both sides; a new code replaces it, and a claimed link may finish later', async () => {
    const { desktop, uid } = await desktopLogin();
    const old = (await offer(desktop, uid)).body;
    offsetMs += (HANDOFF_TTL + 1) * 1000;
    try {
      const phone = createAgent(server.issuer);
      assert.equal((await openPage(phone, old.link)).status, 410);
      assert.equal((await phoneChallenge(phone, old.link, Wallet.createRandom().address)).body.error, 'handoff_expired');
      assert.deepEqual((await status(desktop, uid)).body, { status: 'expired' });

      const renewed = (await offer(desktop, uid)).body;
      assert.notEqual(renewed.link, old.link);
      assert.equal((await phoneChallenge(phone, old.link, Wallet.createRandom().address)).body.error, 'handoff_not_found');
      const wallet = Wallet.createRandom();
      const { message } = (await phoneChallenge(phone, renewed.link, wallet.address)).body;
      // Claimed in time: the login may finish after the claim window (within the interaction and the challenge's own expiry).
      offsetMs += (HANDOFF_TTL / 2 + 1) * 1000;
      assert.equal((await phoneVerify(phone, renewed.link, message, await wallet.signMessage(message))).status, 200);
      assert.equal((await status(desktop, uid)).body.status, 'signed');
    } finally {
      offsetMs = 0;
    }
  });

  it("never completes another interaction: a link's device cannot sign a message issued to another login", async () => {
    const a = await desktopLogin();
    const b = await desktopLogin();
    const linkA = (await offer(a.desktop, a.uid)).body.link;
    const wallet = Wallet.createRandom();
    // B's own challenge, signed, sent through A's link.
    const { message } = await requestChallenge(b.desktop, b.uid, wallet.address);
    const phone = createAgent(server.issuer);
    assert.equal((await phoneChallenge(phone, linkA, wallet.address)).status, 200);
    const refused = await phoneVerify(phone, linkA, message, await wallet.signMessage(message));
    assert.deepEqual([refused.status, refused.body.error], [400, 'nonce_unknown']);
    assert.deepEqual((await status(b.desktop, b.uid)).body, { status: 'none' });
    assert.equal((await status(a.desktop, a.uid)).body.status, 'opened');
  });

  it("answers a link's status only to the desktop that holds the interaction", async () => {
    const { desktop, uid } = await desktopLogin();
    await offer(desktop, uid);
    const other = createAgent(server.issuer);
    const res = await status(other, uid);
    assert.deepEqual([res.status, res.body.error], [400, 'interaction_not_found']);
    assert.equal((await offer(other, uid)).body.error, 'interaction_not_found');
  });

  it('refuses malformed and out-of-order phone requests with stable codes', async () => {
    const { desktop, uid } = await desktopLogin();
    const { link } = (await offer(desktop, uid)).body;
    const phone = createAgent(server.issuer);
    const bad = `${server.issuer}/handoff/${'x'.repeat(12)}`;
    assert.equal((await openPage(phone, bad)).status, 404);
    assert.equal((await phoneChallenge(phone, bad, Wallet.createRandom().address)).body.error, 'handoff_not_found');
    const unknown = `${server.issuer}/handoff/${'A'.repeat(43)}`;
    assert.equal((await phoneChallenge(phone, unknown, Wallet.createRandom().address)).body.error, 'handoff_not_found');
    // A verify from a device that never claimed the link.
    const unclaimed = await phoneVerify(phone, link, 'Nonce: 12345678\n', `0x${'11'.repeat(65)}`);
    assert.deepEqual([unclaimed.status, unclaimed.body.error], [409, 'handoff_taken']);
    const wrongType = await phone.fetch(new URL(`${phoneApi(link)}/challenge`, server.issuer), { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    const crossSite = await postJson(phone, `${phoneApi(link)}/challenge`, { address: Wallet.createRandom().address, chainId: 1 }, { headers: { origin: 'https://evil.example' } });
    assert.deepEqual([crossSite.status, crossSite.body.error], [400, 'invalid_request']);
    const badBody = await phoneChallenge(phone, link, 'not-an-address');
    assert.deepEqual([badBody.status, badBody.body.error], [400, 'address_invalid']);
  });
}

describeEachDatabase('signing on another device', (backend) => {
  suite(async (clock) => {
    const db = await backend.create();
    const server = await startTestServer(db, { clock, env: { HANDOFF_TTL: String(HANDOFF_TTL) } });
    return {
      server,
      async stop() {
        await server.close();
        await db.drop();
      },
    };
  });
});

describe('signing on another device: rate limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('memory', { env: { LOGIN_RATE_LIMIT: '4', HANDOFF_STATUS_RATE_LIMIT: '5' } });
  });
  after(() => server.close());

  it("limits a phone's requests like the login API's, and a desktop's polling by its own rule", async () => {
    const rp = await createOpenidClient(server, { skip_consent: true });
    const desktop = createAgent(server.issuer);
    const uid = await startLogin(desktop, (await rp.authorize()).url);
    const { link } = (await offer(desktop, uid)).body;
    const phone = createAgent(server.issuer);
    const burst = await Promise.all(Array.from({ length: 6 }, () => phoneChallenge(phone, link, Wallet.createRandom().address)));
    assert.ok(burst.some((a) => a.status === 429 && a.body.error === 'rate_limited'), burst.map((a) => a.status).join(' '));
    const polls = await Promise.all(Array.from({ length: 8 }, () => status(desktop, uid)));
    assert.deepEqual(polls.map((p) => p.status).sort(), [200, 200, 200, 200, 200, 429, 429, 429]);
  });
});

describeOnPostgres('signing on another device across instances', {}, (backend) => {
  let db: TestDatabase;
  let desktopSide: TestServer;
  let phoneSide: TestServer;
  before(async () => {
    db = await backend.create();
    desktopSide = await startTestServer(db);
    phoneSide = await startTestServer(db);
  });
  after(async () => {
    await desktopSide?.close();
    await phoneSide?.close();
    await db?.drop();
  });

  it('claims, signs and continues when the phone reaches another instance than the desktop', async () => {
    const rp = await createOpenidClient(desktopSide, { skip_consent: true });
    const desktop = createAgent(desktopSide.issuer);
    const request = await rp.authorize();
    const uid = await startLogin(desktop, request.url);
    const { link } = (await offer(desktop, uid)).body;
    // The same path on the other instance: what a load balancer would do.
    const onOther = `${phoneSide.issuer}${new URL(link).pathname}`;
    const phone = createAgent(phoneSide.issuer);
    const wallet = Wallet.createRandom();
    const { message } = (await phoneChallenge(phone, onOther, wallet.address)).body;
    assert.equal((await phoneVerify(phone, onOther, message, await wallet.signMessage(message))).status, 200);
    const signed = await status(desktop, uid);
    assert.equal(signed.body.status, 'signed');
    const callback = await followToClient(desktop, signed.body.redirectTo!, { consent: false });
    assert.equal((await oidc.authorizationCodeGrant(rp.config, callback, request.checks)).claims()!.sub, wallet.address);
  });
});
