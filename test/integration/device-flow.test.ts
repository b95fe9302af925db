// The device authorization grant (RFC 8628) over HTTP, on PGlite and Postgres: openid-client as the device, a cookie
// jar and an ethers wallet as the person on the verification pages. Approved, cancelled, expired, polled too fast,
// redeemed concurrently, malformed input, and user codes guessed in a burst.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { hashTokenId } from '../../src/oidc/token-ids.ts';
import { describeEachDatabase, type Backend, type TestDatabase } from '../helpers/db.ts';
import { answerConfirmation, approveDevice, enterUserCode } from '../helpers/device.ts';
import { createAgent, requestChallenge } from '../helpers/login.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface Device {
  server: TestServer;
  config: oidc.Configuration;
  clientId: string;
  /** One token request for `deviceCode`, raw: its status and JSON body. */
  redeem(deviceCode: string): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** A server over a fresh database with a device client registered as `clients add --device` does. */
async function startDevice(backend: Backend, opts: TestServerOptions = {}): Promise<Device> {
  const db: TestDatabase = await backend.create();
  const server = await startTestServer(db, { ...opts, env: { DEVICE_POLL_INTERVAL: '1', ...opts.env } });
  const client = await server.addClient({
    client_name: 'Terminal',
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  });
  const config = await oidc.discovery(new URL(server.issuer), client.client_id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  const redeem = async (deviceCode: string) => {
    const res = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: client.client_id }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { server, config, clientId: client.client_id, redeem, stop: async () => (await server.close(), await db.drop()) };
}

/** The device's polling error (openid-client rejects with the token endpoint's `error`). */
async function pollError(config: oidc.Configuration, response: oidc.DeviceAuthorizationResponse): Promise<string | undefined> {
  const err = await oidc.pollDeviceAuthorizationGrant(config, response).then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof oidc.ResponseBodyError ? err.error : String(err);
}

describeEachDatabase('device authorization grant', (backend) => {
  describe('one server', () => {
    let d: Device;
    before(async () => {
      d = await startDevice(backend);
    });
    after(() => d?.stop());
    afterEach(() => mock.timers.reset());

    it('gives the device tokens for the wallet that signed in, once', async () => {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid profile offline_access' });
      assert.match(response.user_code, USER_CODE);
      assert.equal(response.verification_uri, `${d.server.issuer}/device`);
      assert.equal(response.verification_uri_complete, `${d.server.issuer}/device?user_code=${response.user_code}`);
      assert.equal(response.interval, 1, 'the interval the gate enforces is advertised');
      assert.ok(response.expires_in > 590 && response.expires_in <= 600, `expires_in ${response.expires_in}`);

      const polling = oidc.pollDeviceAuthorizationGrant(d.config, response);
      const wallet = Wallet.createRandom();
      const end = await approveDevice(createAgent(d.server.issuer), response.user_code, wallet);
      assert.equal(end.status, 200);
      assert.match(end.html, /You are signed in to Terminal on your device/);
      const tokens = await polling;
      assert.equal(tokens.claims()?.sub, wallet.address);
      assert.ok(tokens.refresh_token, 'offline_access with the refresh_token grant gives a refresh token');

      // The code is spent: redeeming it again is refused, and (RFC 6749 §4.1.2, as for codes) takes the grant with it.
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      mock.timers.tick(1000);
      const again = await d.redeem(response.device_code);
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
      const userinfo = await fetch(`${d.server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(userinfo.status, 401, 'the second redemption revoked what the first one issued');
    });

    it('names the verification URI in the SIWE message of a client with no redirect URI', async () => {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const agent = createAgent(d.server.issuer);
      const confirmation = await enterUserCode(agent, response.user_code.toLowerCase().replace('-', ' '));
      assert.equal(confirmation.status, 200, 'the code is found in any letter case and with any separator');
      const toLogin = await answerConfirmation(agent, confirmation.xsrf, response.user_code, 'confirm');
      const uid = toLogin.location!.match(/\/interaction\/([^/]+)$/)![1]!;
      const { message } = await requestChallenge(agent, uid, Wallet.createRandom().address);
      assert.match(message, new RegExp(`\\nResources:\\n- ${d.server.issuer}/device$`));
    });

    it('shows the client, the code and the device on the confirmation page', async () => {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const page = await enterUserCode(createAgent(d.server.issuer), response.user_code);
      assert.equal(page.status, 200);
      assert.match(page.html, /Terminal/);
      assert.match(page.html, new RegExp(`class="user-code" id="user-code">${response.user_code}<`));
      assert.match(page.html, /127\.0\.0\.1/, 'the IP the device asked from');
      assert.match(page.html, /If someone sent you this code or link, choose Cancel/);
      assert.match(page.csp ?? '', /script-src 'self'/, 'the CSP of every page');
    });

    it("keeps the code form's session, which has no account, only as long as a device code", async () => {
      const agent = createAgent(d.server.issuer);
      await enterUserCode(agent, 'BCDF-GHJK');
      const cookie = (await agent.jar.getCookies(d.server.issuer)).find((c) => c.key === '_session')?.value;
      assert.ok(cookie, 'the form set a session cookie');
      const rows = await d.server.ctx
        .database!.knex('oidc_payloads')
        .where({ model: 'Session', id: hashTokenId(cookie) })
        .select('expires_at', 'account_id');
      assert.equal(rows.length, 1, 'the form secret is stored');
      const seconds = (new Date(rows[0]!.expires_at).getTime() - Date.now()) / 1000;
      assert.ok(seconds > 500 && seconds <= 600, `expires in ${seconds} s, not SESSION_TTL`);
      assert.equal(rows[0]!.account_id, null);
    });

    it('answers access_denied when the person cancels on the confirmation page', async () => {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const agent = createAgent(d.server.issuer);
      const confirmation = await enterUserCode(agent, response.user_code);
      const cancelled = await answerConfirmation(agent, confirmation.xsrf, response.user_code, 'abort');
      assert.match(cancelled.html, /The sign-in was cancelled/);
      assert.equal(await pollError(d.config, response), 'access_denied');
      const reused = await enterUserCode(createAgent(d.server.issuer), response.user_code);
      assert.equal(reused.status, 400);
      assert.match(reused.html, /already been used/);
    });

    it('answers access_denied when the person cancels on the login page', async () => {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const agent = createAgent(d.server.issuer);
      const confirmation = await enterUserCode(agent, response.user_code);
      const toLogin = await answerConfirmation(agent, confirmation.xsrf, response.user_code, 'confirm');
      const aborted = await agent.fetch(new URL(`${toLogin.location!}/abort`, d.server.issuer), { redirect: 'follow' });
      assert.match(await aborted.text(), /The sign-in was cancelled/);
      assert.equal(await pollError(d.config, response), 'access_denied');
    });

    it('answers expired_token once the device code has expired, and says so on the page', async () => {
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      mock.timers.tick(601_000);
      const polled = await d.redeem(response.device_code);
      assert.equal(polled.status, 400);
      assert.equal(polled.body.error, 'expired_token');
      const page = await enterUserCode(createAgent(d.server.issuer), response.user_code);
      assert.equal(page.status, 400);
      assert.match(page.html, /That code has expired/);
    });

    it('answers slow_down to a device code polled within its interval, per device code', async () => {
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const [one, two] = await Promise.all([1, 2].map(() => oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' })));
      assert.equal((await d.redeem(one!.device_code)).body.error, 'authorization_pending');
      const fast = await d.redeem(one!.device_code);
      assert.equal(fast.status, 400);
      assert.equal(fast.body.error, 'slow_down');
      assert.equal((await d.redeem(two!.device_code)).body.error, 'authorization_pending', 'another device code is counted apart');
      mock.timers.tick(1000);
      assert.equal((await d.redeem(one!.device_code)).body.error, 'authorization_pending', 'after the interval it is answered again');
    });

    it('refuses malformed user codes and device codes with a 4xx, and a stored hash as a device code', async () => {
      const agent = createAgent(d.server.issuer);
      for (const code of ['', '%%%%', 'x'.repeat(5000), 'ÄÖÜ-😀', 'BCDF-GHJK-LMNP']) {
        const page = await enterUserCode(agent, code);
        assert.equal(page.status, 400, `user code ${JSON.stringify(code.slice(0, 20))}`);
      }
      const noXsrf = await fetch(`${d.server.issuer}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'user_code=BCDF-GHJK',
      });
      assert.equal(noXsrf.status, 400);
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      for (const code of ['x', 'x'.repeat(3000), hashTokenId(response.device_code), `stored-sha256:${hashTokenId(response.device_code)}`]) {
        const res = await d.redeem(code);
        assert.equal(res.status, 400, code.slice(0, 20));
        assert.equal(res.body.error, 'invalid_grant');
      }
      const resume = await fetch(`${d.server.issuer}/device/${'A'.repeat(43)}`, { redirect: 'manual' });
      assert.ok(resume.status >= 400 && resume.status < 500, `an unknown resume: ${resume.status}`);
    });
  });

  it('lets exactly one of concurrent redemptions of an approved device code through', async () => {
    // The gate's slow_down would let only one request reach oidc-provider: this proves the store's conditional consume,
    // behind it, on its own.
    const d = await startDevice(backend, { overrides: { rateLimiter: { hit: async () => ({ allowed: true }), check: async () => ({ allowed: true }) } } });
    try {
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      await approveDevice(createAgent(d.server.issuer), response.user_code, Wallet.createRandom());
      const results = await Promise.all(Array.from({ length: 8 }, () => d.redeem(response.device_code)));
      const won = results.filter((r) => r.status === 200);
      assert.equal(won.length, 1, JSON.stringify(results.map((r) => [r.status, r.body.error])));
      assert.deepEqual(
        results.filter((r) => r.status !== 200).map((r) => [r.status, r.body.error]),
        Array.from({ length: 7 }, () => [400, 'invalid_grant']),
      );
      const userinfo = await fetch(`${d.server.issuer}/me`, { headers: { authorization: `Bearer ${String(won[0]!.body.access_token)}` } });
      assert.equal(userinfo.status, 401, "the losers revoked the grant, and with it the winner's access token");
    } finally {
      await d.stop();
    }
  });

  it('refuses user codes past USER_CODE_RATE_LIMIT from one address, the right one too', async () => {
    const d = await startDevice(backend, { env: { USER_CODE_RATE_LIMIT: '5' } });
    try {
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const response = await oidc.initiateDeviceAuthorization(d.config, { scope: 'openid' });
      const agent = createAgent(d.server.issuer);
      const { xsrf } = await enterUserCode(agent, 'BCDF-BCDF'); // a GET and a POST: two of the five
      const guesses = await Promise.all(
        ['BCDF-BCDG', 'BCDF-BCDH', 'BCDF-BCDJ', 'BCDF-BCDK', 'BCDF-BCDL'].map((code) =>
          agent.fetch(`${d.server.issuer}/device`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ xsrf, user_code: code }),
          }),
        ),
      );
      assert.deepEqual(guesses.map((r) => r.status).sort(), [400, 400, 400, 429, 429]);
      const right = await agent.fetch(`${d.server.issuer}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, user_code: response.user_code }),
      });
      assert.equal(right.status, 429);
      assert.equal(((await right.json()) as { error: string }).error, 'rate_limited');
      mock.timers.tick(61_000);
      assert.equal((await enterUserCode(agent, response.user_code)).status, 200, 'a minute later the right code is found');
    } finally {
      mock.timers.reset();
      await d.stop();
    }
  });
});
