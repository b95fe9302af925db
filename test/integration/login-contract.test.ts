// The login contract's refusals: replays, races, wrong signers, tampering, expiry, bad input. Each with its reason code.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, REDIRECT_URI } from '../helpers/server.ts';
import { createAgent, followToClient, postJson, requestChallenge, signIn, startLogin, verify } from '../helpers/login.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { MAX_CHALLENGES_PER_INTERACTION } from '../../src/siwe/challenge.ts';

const TTL = 300;

async function setup(db: TestDatabase) {
  let offsetMs = 0;
  const server = await startTestServer(db, { env: { CHALLENGE_TTL: String(TTL) }, clock: () => new Date(Date.now() + offsetMs) });
  const client = await server.addClient();

  const authorizationUrl = (c: StoredClient = client, extra: Record<string, string> = {}) => {
    const url = new URL('/auth', server.issuer);
    const params = {
      client_id: c.client_id,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile',
      state: 'st',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url;
  };

  /** A fresh browser-less user at the login step of a new interaction. */
  const begin = async (c: StoredClient = client) => {
    const agent = createAgent(server.issuer);
    const uid = await startLogin(agent, authorizationUrl(c));
    return { agent, uid };
  };

  const events = (uid: string) => server.ctx.database!.knex('login_events').where({ interaction_uid: uid }).orderBy('id');

  return { server, client, authorizationUrl, begin, events, advanceClock: (ms: number) => (offsetMs += ms) };
}

describeEachDatabase('the login contract', (backend) => {
  let db: TestDatabase;
  let t: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    db = await backend.create();
    t = await setup(db);
  });
  after(async () => {
    await t?.server.close();
    await db?.drop();
  });

  describe('POST /interaction/:uid/challenge', () => {
    it('issues the exact EIP-4361 text bound to this login', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message, nonce, expiresAt } = await requestChallenge(agent, uid, wallet.address.toLowerCase(), 10);
      const issuer = new URL(t.server.issuer);
      assert.ok(message.startsWith(`${issuer.host} wants you to sign in with your Ethereum account:\n${wallet.address}\n`), message);
      assert.match(message, new RegExp(`\nURI: ${issuer.origin}\n`));
      assert.match(message, /\nChain ID: 10\n/);
      assert.match(message, new RegExp(`\nNonce: ${nonce}\n`));
      assert.match(message, new RegExp(`\nRequest ID: ${uid}\n`));
      assert.ok(message.endsWith(`\nResources:\n- ${REDIRECT_URI}`), message);
      assert.match(message, /Sign in to Test RP\./);
      assert.match(nonce, /^[A-Za-z0-9]{24,}$/, 'at least 96 bits, alphanumeric');
      const issuedAt = Date.parse(message.match(/\nIssued At: (.+)\n/)![1]!);
      assert.equal(Date.parse(expiresAt) - issuedAt, TTL * 1000);
      assert.match(message, new RegExp(`\nExpiration Time: ${expiresAt.replace(/\./g, '\\.')}\n`));
    });

    it('refuses a chain outside the allow-list with chain_not_allowed', async () => {
      const { agent, uid } = await t.begin();
      const res = await postJson(agent, `/interaction/${uid}/challenge`, { address: Wallet.createRandom().address, chainId: 999999 });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'chain_not_allowed');
      const [event] = await t.events(uid);
      assert.equal(event.outcome, 'refused');
      assert.equal(event.reason, 'chain_not_allowed');
    });

    it('refuses malformed bodies with invalid_request, address_invalid or 415, never 500', async () => {
      const { agent, uid } = await t.begin();
      const path = `/interaction/${uid}/challenge`;
      const cases: [unknown, number, string][] = [
        ['{not json', 400, 'invalid_request'],
        [{}, 400, 'invalid_request'],
        [{ address: Wallet.createRandom().address, chainId: '1' }, 400, 'invalid_request'],
        [{ address: Wallet.createRandom().address, chainId: 1.5 }, 400, 'invalid_request'],
        [{ address: 'not-an-address', chainId: 1 }, 400, 'address_invalid'],
        [[1, 2], 400, 'invalid_request'],
        ['null', 400, 'invalid_request'],
      ];
      for (const [body, status, error] of cases) {
        const res = await postJson(agent, path, body);
        assert.deepEqual([res.status, res.body.error], [status, error], `body ${JSON.stringify(body)}`);
      }
      const form = await agent.fetch(new URL(path, t.server.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'address=0x0&chainId=1',
      });
      assert.equal(form.status, 415);
      assert.equal((await form.json()).error, 'unsupported_media_type');
      const huge = await postJson(agent, path, { address: 'x'.repeat(64 * 1024), chainId: 1 });
      assert.equal(huge.status, 413);
      assert.equal(huge.body.error, 'payload_too_large');
    });

    it('answers interaction_not_found without the interaction cookie or for an unknown uid', async () => {
      const { uid } = await t.begin();
      const stranger = createAgent(t.server.issuer);
      const res = await postJson(stranger, `/interaction/${uid}/challenge`, { address: Wallet.createRandom().address, chainId: 1 });
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'interaction_not_found');
      const { agent } = await t.begin();
      const unknown = await postJson(agent, `/interaction/nope/challenge`, { address: Wallet.createRandom().address, chainId: 1 });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error, 'interaction_not_found');
    });

    it('caps the challenges one login may ask for with too_many_challenges', async () => {
      const { agent, uid } = await t.begin();
      const address = Wallet.createRandom().address;
      for (let i = 0; i < MAX_CHALLENGES_PER_INTERACTION; i++) await requestChallenge(agent, uid, address);
      const res = await postJson(agent, `/interaction/${uid}/challenge`, { address, chainId: 1 });
      assert.equal(res.status, 429);
      assert.equal(res.body.error, 'too_many_challenges');
    });

    it('names the single registered redirect URI when the RP omits redirect_uri', async () => {
      const agent = createAgent(t.server.issuer);
      const url = t.authorizationUrl();
      url.searchParams.delete('redirect_uri');
      const uid = await startLogin(agent, url);
      const { message } = await requestChallenge(agent, uid, Wallet.createRandom().address);
      assert.ok(message.endsWith(`\nResources:\n- ${REDIRECT_URI}`), message);
    });

    it('refuses cross-origin posts', async () => {
      const { agent, uid } = await t.begin();
      const res = await postJson(
        agent,
        `/interaction/${uid}/challenge`,
        { address: Wallet.createRandom().address, chainId: 1 },
        { headers: { origin: 'https://evil.example' } },
      );
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_request');
    });
  });

  describe('POST /interaction/:uid/verify', () => {
    it('accepts a signature once: a replay answers nonce_used', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const signature = await wallet.signMessage(message);
      const first = await verify(agent, uid, message, signature);
      assert.equal(first.status, 200);
      assert.ok(first.body.redirectTo);
      const replay = await verify(agent, uid, message, signature);
      assert.equal(replay.status, 409);
      assert.equal(replay.body.error, 'nonce_used');
    });

    it('never accepts a signature again after the login completed', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const signature = await wallet.signMessage(message);
      const first = await verify(agent, uid, message, signature);
      const callback = await followToClient(agent, first.body.redirectTo!);
      assert.ok(callback.searchParams.get('code'));
      const replay = await verify(agent, uid, message, signature);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'interaction_not_found');
    });

    it('lets exactly one of many concurrent copies of a valid signature succeed', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const signature = await wallet.signMessage(message);
      const results = await Promise.all(Array.from({ length: 12 }, () => verify(agent, uid, message, signature)));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, ...Array(11).fill(409)]);
      assert.ok(results.filter((r) => r.status === 409).every((r) => r.body.error === 'nonce_used'));
      const successes = await t.server.ctx.database!.knex('login_events').where({ interaction_uid: uid, outcome: 'success' });
      assert.equal(successes.length, 1);
    });

    it('refuses a signature by another wallet with bad_signature, and records it', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const res = await verify(agent, uid, message, await Wallet.createRandom().signMessage(message));
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'bad_signature');
      const events = await t.events(uid);
      assert.deepEqual(
        events.map((e) => [e.outcome, e.reason]),
        [['refused', 'bad_signature']],
      );
    });

    it('refuses a message that differs from the issued one with message_mismatch, even when properly signed', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const tampered = message.replace(`- ${REDIRECT_URI}`, '- https://attacker.example/callback');
      assert.notEqual(tampered, message);
      const res = await verify(agent, uid, tampered, await wallet.signMessage(tampered));
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'message_mismatch');
    });

    it('burns the challenge on a failed attempt: the right signature afterwards answers nonce_used', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      await verify(agent, uid, message, await Wallet.createRandom().signMessage(message));
      const res = await verify(agent, uid, message, await wallet.signMessage(message));
      assert.equal(res.body.error, 'nonce_used');
    });

    it('refuses a challenge from another login with nonce_unknown', async () => {
      const wallet = Wallet.createRandom();
      const a = await t.begin();
      const b = await t.begin();
      const { message } = await requestChallenge(a.agent, a.uid, wallet.address);
      const res = await verify(b.agent, b.uid, message, await wallet.signMessage(message));
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'nonce_unknown');
    });

    it('refuses an expired challenge with expired', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const signature = await wallet.signMessage(message);
      t.advanceClock((TTL + 1) * 1000);
      try {
        const res = await verify(agent, uid, message, signature);
        assert.equal(res.status, 400);
        assert.equal(res.body.error, 'expired');
      } finally {
        t.advanceClock(-(TTL + 1) * 1000);
      }
    });

    it('refuses malformed bodies with stable codes, never 500', async () => {
      const { agent, uid } = await t.begin();
      const sig = `0x${'ab'.repeat(65)}`;
      const cases: [unknown, number, string][] = [
        ['{', 400, 'invalid_request'],
        [{ message: 'hello' }, 400, 'invalid_request'],
        [{ message: 'hello', signature: 'zz' }, 400, 'invalid_request'],
        [{ message: 42, signature: sig }, 400, 'invalid_request'],
        [{ message: 'not an EIP-4361 message', signature: sig }, 400, 'invalid_message'],
      ];
      for (const [body, status, error] of cases) {
        const res = await postJson(agent, `/interaction/${uid}/verify`, body);
        assert.deepEqual([res.status, res.body.error], [status, error], `body ${JSON.stringify(body)}`);
      }
    });
  });

  describe('accounts, consent and abort', () => {
    it('creates the account on first login and counts later ones', async () => {
      const wallet = Wallet.createRandom();
      for (let i = 0; i < 2; i++) {
        const { agent, uid } = await t.begin();
        await followToClient(agent, await signIn(agent, uid, wallet));
      }
      const account = await t.server.ctx.stores.accounts.find(wallet.address);
      assert.equal(account?.loginCount, 2);
      assert.ok(account!.lastLoginAt >= account!.firstLoginAt);
    });

    it('asks for consent, and skips it for a client registered with skip_consent', async () => {
      const wallet = Wallet.createRandom();
      const first = await t.begin();
      await assert.rejects(followToClient(first.agent, await signIn(first.agent, first.uid, wallet), { consent: false }), /consent was asked for/);
      const trusted = await t.server.addClient({ client_name: 'First party', skip_consent: true });
      const second = await t.begin(trusted);
      const callback = await followToClient(second.agent, await signIn(second.agent, second.uid, wallet), { consent: false });
      assert.ok(callback.searchParams.get('code'));
    });

    it('sends the RP access_denied when the user cancels', async () => {
      const { agent, uid } = await t.begin();
      const res = await agent.fetch(new URL(`/interaction/${uid}/abort`, t.server.issuer), { redirect: 'manual' });
      assert.equal(res.status, 303);
      const callback = await followToClient(agent, res.headers.get('location')!);
      assert.equal(callback.origin + callback.pathname, REDIRECT_URI);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
    });

    it('answers wrong_prompt to a challenge at the consent step', async () => {
      const wallet = Wallet.createRandom();
      const { agent, uid } = await t.begin();
      const resume = await agent.fetch(new URL(await signIn(agent, uid, wallet), t.server.issuer), { redirect: 'manual' });
      const consentUid = resume.headers.get('location')!.split('/').pop()!;
      const res = await postJson(agent, `/interaction/${consentUid}/challenge`, { address: wallet.address, chainId: 1 });
      assert.equal(res.status, 409);
      assert.equal(res.body.error, 'wrong_prompt');
    });

    it('requires PKCE from public clients', async () => {
      const publicClient = await t.server.addClient({ token_endpoint_auth_method: 'none' });
      const agent = createAgent(t.server.issuer);
      const url = t.authorizationUrl(publicClient);
      url.searchParams.delete('code_challenge');
      url.searchParams.delete('code_challenge_method');
      const res = await agent.fetch(url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
    });
  });

  describe('GET /interaction/:uid', () => {
    it('serves the login page under a strict Content-Security-Policy', async () => {
      const { agent, uid } = await t.begin();
      const res = await agent.fetch(new URL(`/interaction/${uid}`, t.server.issuer));
      assert.equal(res.status, 200);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      const html = await res.text();
      assert.match(html, /Test RP/);
      assert.match(html, /<script type="module" src="\/static\/login\.js"/);
      assert.doesNotMatch(html, /<script>/);
    });

    it('refuses an authorization request whose state carries a NUL byte with 400 invalid_request, not a 500', async () => {
      const res = await fetch(t.authorizationUrl(t.client, { state: 'a\u0000b' }), { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
    });

    it('serves an error page, not a 500, for an unknown interaction', async () => {
      const res = await createAgent(t.server.issuer).fetch(new URL('/interaction/unknown', t.server.issuer));
      assert.equal(res.status, 400);
      assert.match(await res.text(), /interaction_not_found/);
    });
  });
});
