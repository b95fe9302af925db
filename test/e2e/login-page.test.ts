// The login page in a real browser: a wallet injected as window.ethereum signs, the RP gets a real code.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { createPgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { browserUnavailable, injectLegacyWallet, launchBrowser, screenshot } from '../helpers/browser.ts';

const missing = browserUnavailable();
const skip = missing && process.env.CI !== 'true' ? missing : false;

describe('the login page in Chromium', { skip }, () => {
  let db: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  let rp: oidc.Configuration;

  before(async () => {
    if (missing) throw new Error(`${missing}; under CI=true browser tests must run`);
    db = await createPgliteDatabase();
    server = await startTestServer(db);
    const client = await server.addClient({ client_name: 'Browser RP', client_uri: 'https://rp.example' });
    rp = await oidc.discovery(new URL(server.issuer), client.client_id, client.client_secret, oidc.ClientSecretPost(client.client_secret!), {
      execute: [oidc.allowInsecureRequests],
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await db?.drop();
  });

  /** Opens a fresh page at a new authorization request; resolves the RP's callback URL when the browser reaches it. */
  async function open(viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const verifier = oidc.randomPKCECodeVerifier();
    let reached: (url: URL) => void;
    const callback = new Promise<URL>((resolve) => (reached = resolve));
    await page.route(`${REDIRECT_URI}**`, async (route) => {
      reached(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'RP callback' });
    });
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { page, verifier, url, callback };
  }

  async function signIn(page: Page) {
    await page.getByRole('button', { name: 'Browser wallet' }).click();
  }

  it('signs in with an injected wallet, gives consent, and hands the RP a code it can redeem', async () => {
    const wallet = Wallet.createRandom();
    const { page, verifier, url, callback } = await open();
    await injectLegacyWallet(page, wallet);
    await page.goto(url.href);
    await screenshot(page, 'login-desktop');
    await signIn(page);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await screenshot(page, 'consent-desktop');
    await page.getByRole('button', { name: 'Allow' }).click();
    const tokens = await oidc.authorizationCodeGrant(rp, await callback, { pkceCodeVerifier: verifier });
    assert.equal(tokens.claims()?.sub, wallet.address);
  });

  it('explains a rejected signature and lets the user try again', async () => {
    const wallet = Wallet.createRandom();
    const { page, url, callback } = await open({ width: 360, height: 780 });
    const injected = await injectLegacyWallet(page, wallet);
    await page.goto(url.href);
    injected.rejectNext();
    await signIn(page);
    await page.getByText('You rejected the request in your wallet').waitFor();
    await screenshot(page, 'login-rejected-phone');
    await signIn(page);
    await page.getByRole('button', { name: 'Allow' }).click();
    assert.ok((await callback).searchParams.get('code'));
  });
});
