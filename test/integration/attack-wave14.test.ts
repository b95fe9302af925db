// Attack wave 14: the cross-device sign-in and the device authorization grant, attacked from outside over HTTP on
// PGlite and Postgres (real openid-client devices, cookie jars, ethers wallets). Each test here failed before its fix.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { createDb } from '../../src/db/knex.ts';
import { describeEachDatabase, type Backend } from '../helpers/db.ts';
import { answerConfirmation, enterUserCode, signInForDevice } from '../helpers/device.ts';
import { createAgent, postJson, requestChallenge, startLogin, verify } from '../helpers/login.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { REDIRECT_URI, startTestServer } from '../helpers/server.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A server over a fresh database with a public device client, as `clients add --device` registers it. */
async function startDevice(backend: Backend, env: Record<string, string> = {}) {
  const db = await backend.create();
  const server = await startTestServer(db, { env: { DEVICE_POLL_INTERVAL: '60', ...env } });
  const client = await server.addClient({
    client_name: 'Terminal',
    grant_types: [DEVICE_GRANT],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  });
  const config = await oidc.discovery(new URL(server.issuer), client.client_id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  return { server, config, clientId: client.client_id, stop: async () => (await server.close(), await db.drop()) };
}

describeEachDatabase('attack wave 14', (backend) => {
  it("limits the device endpoints and slow_down whatever the path's case or trailing slash (oidc-provider routes them all)", async () => {
    const d = await startDevice(backend, { USER_CODE_RATE_LIMIT: '2', DEVICE_AUTHORIZATION_RATE_LIMIT: '3' });
    try {
      const agent = createAgent(d.server.issuer);
      const form = await Promise.all(
        ['/device', '/device', '/DEVICE', '/device/', '/Device/'].map(async (path) => {
          const res = await agent.fetch(`${d.server.issuer}${path}`, { headers: { accept: 'text/html' } });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      assert.deepEqual(form.sort(), [200, 200, 429, 429, 429], 'the user-code form: guesses through another spelling count too');

      const { device_code: deviceCode } = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const poll = async (path: string) => {
        const res = await fetch(`${d.server.issuer}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: d.clientId }),
        });
        return ((await res.json()) as { error: string }).error;
      };
      assert.equal(await poll('/token'), 'authorization_pending');
      for (const path of ['/TOKEN', '/token/', '/Token/']) assert.equal(await poll(path), 'slow_down', path);

      const authorize = async (path: string) => {
        const res = await fetch(`${d.server.issuer}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: d.clientId, scope: 'openid' }),
        });
        await res.arrayBuffer();
        return res.status;
      };
      // One of the three went to the device code above.
      const authorizations = await Promise.all(['/device/auth', '/DEVICE/AUTH', '/device/auth/', '/Device/Auth/'].map(authorize));
      assert.deepEqual(authorizations.sort(), [200, 200, 429, 429]);
    } finally {
      await d.stop();
    }
  });

  it('lets one of several browsers answering one user code at once go on: one Continue, or the Cancel, never both', async () => {
    const d = await startDevice(backend, { DEVICE_POLL_INTERVAL: '1' });
    try {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const browsers = Array.from({ length: 6 }, () => createAgent(d.server.issuer));
      const forms = await Promise.all(browsers.map((b) => enterUserCode(b, response.user_code)));
      assert.deepEqual(
        forms.map((f) => f.status),
        browsers.map(() => 200),
      );
      // Five press Continue and one Cancel, at once.
      const answers = await Promise.all(browsers.map((b, i) => answerConfirmation(b, forms[i]!.xsrf, response.user_code, i === 0 ? 'abort' : 'confirm')));
      const toLogin = answers.flatMap((a, i) => (a.status === 303 && a.location ? [{ browser: browsers[i]!, location: a.location }] : []));
      const cancelled = answers[0]!.status === 200 && /cancelled|aborted/i.test(answers[0]!.html);
      const used = answers.filter((a) => a.status === 400 && /already been used/i.test(a.html));
      assert.equal(toLogin.length + (cancelled ? 1 : 0), 1, JSON.stringify(answers.map((a) => a.status)));
      assert.equal(used.length, 5, 'the others are told the code was used');

      if (cancelled) {
        assert.equal((await oidc.pollDeviceAuthorizationGrant(d.config, response).catch((e: unknown) => e as oidc.ResponseBodyError)).error, 'access_denied');
        return;
      }
      const wallet = Wallet.createRandom();
      const end = await signInForDevice(toLogin[0]!.browser, toLogin[0]!.location, wallet);
      assert.equal(end.status, 200);
      const tokens = await oidc.pollDeviceAuthorizationGrant(d.config, response);
      assert.equal(tokens.claims()?.sub, wallet.address);
    } finally {
      await d.stop();
    }
  });

  it('limits HEAD like GET on /device, /auth and /session/end: a HEAD keeps a session or an interaction too', async () => {
    const db = await backend.create();
    const env = { USER_CODE_RATE_LIMIT: '2', AUTHORIZATION_RATE_LIMIT: '2', END_SESSION_RATE_LIMIT: '2' };
    const server = await startTestServer(db, { env });
    const rp = await server.addClient({ redirect_uris: [REDIRECT_URI] });
    const auth = `/auth?${new URLSearchParams({ client_id: rp.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`;
    const statuses: Record<string, number[]> = {};
    try {
      for (const path of ['/device', auth, '/session/end']) {
        for (const method of ['GET', 'HEAD', 'HEAD', 'HEAD', 'HEAD']) {
          const res = await fetch(`${server.issuer}${path}`, { method, redirect: 'manual' });
          await res.arrayBuffer();
          (statuses[path.slice(0, 12)] ??= []).push(res.status);
        }
      }
    } finally {
      await server.close();
    }
    const knex = createDb(db.database);
    try {
      for (const [path, list] of Object.entries(statuses)) assert.deepEqual(list.slice(2), [429, 429, 429], `${path}: ${list.join(' ')}`);
      const rows = (await knex('oidc_payloads').select('model').count({ count: '*' }).groupBy('model')) as { model: string; count: string | number }[];
      const count = (model: string) => Number(rows.find((r) => r.model === model)?.count ?? 0);
      assert.equal(count('Session'), 2, 'one form session per request let through');
      assert.equal(count('Interaction'), 2, 'one interaction per request let through');
    } finally {
      await knex.destroy();
      await db.drop();
    }
  });

  it("signs a login in once when the desktop's wallet and a phone holding its link sign at the same moment", async () => {
    const db = await backend.create();
    const server = await startTestServer(db);
    try {
      const rp = await createOpenidClient(server, { skip_consent: true });
      for (let round = 0; round < 3; round++) {
        const desktop = createAgent(server.issuer);
        const uid = await startLogin(desktop, (await rp.authorize()).url);
        const { link } = (await postJson<{ link: string }>(desktop, `/interaction/${uid}/handoff`, {})).body;
        const phoneApi = new URL(link).pathname;
        // The phone: whoever claimed the link first (a shoulder-surfer, say), with a wallet of its own.
        const phone = createAgent(server.issuer);
        const [phoneWallet, desktopWallet] = [Wallet.createRandom(), Wallet.createRandom()];
        const phoneChallenge = await postJson<{ message: string }>(phone, `${phoneApi}/challenge`, { address: phoneWallet.address, chainId: 1 });
        const desktopChallenge = await requestChallenge(desktop, uid, desktopWallet.address);
        const [phoneSignature, desktopSignature] = await Promise.all([
          phoneWallet.signMessage(phoneChallenge.body.message),
          desktopWallet.signMessage(desktopChallenge.message),
        ]);
        const answers = await Promise.all([
          postJson<{ error?: string }>(phone, `${phoneApi}/verify`, { message: phoneChallenge.body.message, signature: phoneSignature }),
          verify(desktop, uid, desktopChallenge.message, desktopSignature),
        ]);
        const outcome = answers.map((a) => [a.status, (a.body as { error?: string }).error ?? 'signed']);
        assert.equal(outcome.filter(([status]) => status === 200).length, 1, `one sign-in per login: ${JSON.stringify(outcome)}`);
        assert.ok(
          outcome.every(([status, error]) => status === 200 || error === 'handoff_used' || error === 'wrong_prompt'),
          JSON.stringify(outcome),
        );
      }
      const successes = await server.ctx.stores.loginEvents.list({ outcome: 'success', limit: 100 });
      assert.equal(successes.length, 3, 'one success recorded per login');
    } finally {
      await server.close();
      await db.drop();
    }
  });
});
