// The login pages' standing promises: a strict CSP that a full login never trips, no framing, no
// third-party request; keyboard use, labelled fields, a 360 px phone; and the operator's branding.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { REDIRECT_URI } from '../helpers/server.ts';
import { PHONE, RP_LOGO_URI, skipWithoutBrowser, startHarness, text, waitForText, type Harness, type LoginPage } from '../helpers/e2e.ts';

const BRAND_LOGO = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><circle cx="14" cy="14" r="14" fill="#0a7d32"/></svg>')}`;
const BRAND = { PRODUCT_NAME: 'Acme ID', BRAND_COLOR: '#0a7d32', BRAND_LOGO_URL: BRAND_LOGO };

/** A CSP header as directive → sources. */
function parseCsp(header: string | undefined): Map<string, string[]> {
  assert.ok(header, 'the page has a Content-Security-Policy header');
  return new Map(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/** Collects CSP violations a page reports, both as events and as console messages. */
async function watchCsp(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__cspViolation', (report: string) => violations.push(report));
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { __cspViolation(r: string): void }).__cspViolation(`${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
  page.on('console', (msg) => /Content Security Policy|Refused to/i.test(msg.text()) && violations.push(msg.text()));
  return violations;
}

const scrollWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

describe('the standards every login page keeps', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  before(async () => (h = await startHarness({ env: BRAND })));
  afterEach(() => h.closePages());
  after(() => h?.close());

  it('serves a strict CSP, trips it nowhere in a full login and sign-out, and asks only its own origin for anything', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account }] });
    const violations = await watchCsp(login.page);
    const requests: string[] = [];
    const policies: Promise<string | undefined>[] = [];
    login.page.on('request', (req) => requests.push(req.url()));
    login.page.on('response', (res) => {
      if (res.request().resourceType() === 'document' && res.status() === 200 && res.url().startsWith(h.server.issuer)) {
        policies.push(res.allHeaders().then((headers) => headers['content-security-policy']));
      }
    });

    await login.goto();
    await login.page.getByRole('button', { name: text('login.browserWallet') }).click();
    assert.equal((await login.allow()).sub, account.address);
    const callback = await login.callback();
    await login.arrived();

    // And out again: the sign-out question and its answer are pages of ours too.
    await login.page.goto(`${h.server.issuer}/session/end`);
    await login.page.getByRole('button', { name: text('logout.yes') }).click();
    await login.page.getByRole('heading', { name: text('logoutSuccess.title') }).waitFor();

    assert.equal(policies.length, 4, 'login, consent, sign-out, signed out');
    // Forms post to us only; consent's answer redirects on to the RP, so its origin may be a form's destination there alone.
    const formAction = [["'self'"], ["'self'", new URL(REDIRECT_URI).origin], ["'self'"], ["'self'"]];
    for (const [i, header] of (await Promise.all(policies)).entries()) {
      const csp = parseCsp(header);
      assert.deepEqual(csp.get('script-src'), ["'self'"]);
      assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
      assert.deepEqual(csp.get('form-action'), formAction[i], `form-action of page ${i + 1}`);
      assert.ok(!/unsafe-inline|unsafe-eval/.test(header!), header);
    }
    assert.deepEqual(violations, []);
    // The client's own logo and its redirect URI are the only other places the browser goes.
    const elsewhere = [...new Set(requests.filter((url) => !url.startsWith(`${h.server.issuer}/`) && !url.startsWith('data:')))];
    assert.deepEqual(elsewhere, [RP_LOGO_URI, callback.href]);
    assert.ok(callback.href.startsWith(REDIRECT_URI));
  });

  it("lets consent's redirect reach a native app's private-use scheme (its origin is opaque, so form-action names the scheme)", async () => {
    const redirectUri = 'com.example.app:/oauth2redirect';
    const client = await h.server.addClient({
      application_type: 'native',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      client_name: 'Native App',
    });
    const url = new URL(`${h.server.issuer}/auth`);
    const params = { client_id: client.client_id, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 'st' };
    for (const [k, v] of Object.entries({
      ...params,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    })) {
      url.searchParams.set(k, v);
    }
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }] });
    const violations = await watchCsp(login.page);
    const pagePolicies: Promise<string | undefined>[] = []; // login page, then consent page
    login.page.on('response', (res) => {
      if (res.request().resourceType() === 'document' && /\/interaction\/[^/]+$/.test(res.url()))
        pagePolicies.push(res.allHeaders().then((hd) => hd['content-security-policy']));
    });
    // Chromium hands the last redirect (to com.example.app:) to the operating system: the request ends as aborted.
    const handedOff = login.page.waitForEvent('requestfailed', { predicate: (req) => new URL(req.url()).pathname.startsWith('/auth/') });
    await login.page.goto(url.href);
    await login.page.getByRole('button', { name: text('login.browserWallet') }).click();
    await login.page.getByRole('button', { name: text('consent.allow') }).click();
    await handedOff;
    await login.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100))); // let a violation report arrive
    assert.deepEqual(violations, []);
    assert.equal(pagePolicies.length, 2);
    assert.deepEqual(parseCsp(await pagePolicies[1]).get('form-action'), ["'self'", 'com.example.app:']);
  });

  it("refuses to be shown inside another site's frame", async () => {
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }] });
    // Another site on this machine (Chromium never lets a public origin frame a loopback one at all).
    const framer = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><iframe src="${login.url.href}" width="600" height="600"></iframe>`);
    });
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    try {
      const framedPage = login.page.waitForResponse((res) => res.frame() !== login.page.mainFrame() && res.url().startsWith(`${h.server.issuer}/interaction/`));
      await login.page.goto(`http://localhost:${(framer.address() as AddressInfo).port}/`);
      // The issuer answered inside the frame, and the browser refused to show what it sent.
      const csp = parseCsp((await (await framedPage).allHeaders())['content-security-policy']);
      assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
      const frame = login.page.frames().find((f) => f !== login.page.mainFrame())!;
      await frame.waitForLoadState();
      assert.equal(frame.url(), 'chrome-error://chromewebdata/');
      assert.equal(await frame.locator('#login').count(), 0, 'nothing of the login page renders in the frame');
    } finally {
      framer.closeAllConnections();
      await new Promise<void>((resolve) => framer.close(() => resolve()));
    }
  });

  it('can be used with the keyboard alone: Tab to the wallet, Enter to sign, Enter to allow', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account }] });
    await login.goto();
    const walletButton = login.page.getByRole('button', { name: text('login.browserWallet') });
    await walletButton.waitFor();
    const focused: string[] = [];
    for (let i = 0; i < 10 && !(await walletButton.evaluate((el) => el === document.activeElement)); i++) {
      await login.page.keyboard.press('Tab');
      focused.push(await login.page.evaluate(() => document.activeElement?.textContent?.trim() ?? ''));
    }
    assert.ok(await walletButton.evaluate((el) => el === document.activeElement), `Tab reached: ${focused.join(' → ')}`);
    // Focus shows: the ring is the page's own 3 px outline.
    const ring = (el: Element) => {
      const style = getComputedStyle(el);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    };
    assert.equal(await walletButton.evaluate(ring), 'solid 3px');
    await login.page.keyboard.press('Enter');
    const allow = login.page.getByRole('button', { name: text('consent.allow') });
    await allow.waitFor();
    assert.equal(login.wallets[0]!.signatureRequests, 1);
    // Nothing on the consent page takes focus by itself: an Enter still held from the login page grants nothing unread.
    await login.page.keyboard.press('Enter');
    assert.equal(await login.page.evaluate(() => document.activeElement === document.body), true);
    assert.ok(await allow.isVisible(), 'still asking');
    for (let i = 0; i < 10 && !(await allow.evaluate((el) => el === document.activeElement)); i++) await login.page.keyboard.press('Tab');
    assert.equal(await allow.evaluate(ring), 'solid 3px');
    await login.page.keyboard.press('Enter');
    assert.equal((await login.redeem()).sub, account.address);
  });

  it('lists on the consent page what the application will receive, and for which account', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account }] });
    await login.goto();
    await login.page.getByRole('button', { name: text('login.browserWallet') }).click();
    await login.page.getByRole('button', { name: text('consent.allow') }).waitFor();
    const page = login.page;
    assert.equal(await page.locator('main p').first().textContent(), text('consent.intro', { client: 'Browser RP' }));
    assert.deepEqual(await page.locator('ul.scopes li').allTextContents(), [text('consent.scope.openid'), text('consent.scope.profile')]);
    assert.equal(await page.locator('main code').textContent(), account.address);
  });

  it('labels every field of the page, so each can be found by its label', async () => {
    const login = await h.open();
    await login.goto();
    await waitForText(login.status, text('error.noWallet'));
    const { page } = login;
    await page.getByLabel(text('manual.address')).fill(Wallet.createRandom().address);
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    await page.locator('#manual-sign').waitFor();
    for (const key of ['manual.address', 'manual.message', 'manual.signature']) {
      assert.equal(await page.getByLabel(text(key)).count(), 1, key);
    }
    assert.equal(await page.getByLabel(text('manual.network'), { exact: true }).count(), 1);
    const unlabelled = await page
      .locator('input, select, textarea')
      .evaluateAll((fields) => fields.filter((f) => !(f as HTMLInputElement).labels?.length && !f.getAttribute('aria-label')).map((f) => f.outerHTML));
    assert.deepEqual(unlabelled, []);
  });

  /** Fails with every state whose document is wider than the phone. */
  function assertFitsPhone(widths: Record<string, number>) {
    const tooWide = Object.entries(widths).filter(([, w]) => w > PHONE.width);
    assert.deepEqual(tooWide, [], `document widths at ${PHONE.width} px: ${JSON.stringify(widths)}`);
  }

  /** A phone-sized login page whose wallet holds the signature request until `release`. */
  async function openOnPhoneWithHeldSignature() {
    const account = Wallet.createRandom();
    const login: LoginPage = await h.open({ viewport: PHONE, wallets: [{ account }] });
    const { release } = login.wallets[0]!.holdSignature();
    await login.goto();
    const walletButton = login.page.getByRole('button', { name: text('login.browserWallet') });
    await walletButton.waitFor();
    return { login, walletButton, release };
  }

  it('fits a 360 px wide phone without sideways scrolling on the login page', async () => {
    const widths: Record<string, number> = {};
    // No wallet: the manual and phone sections are open, with a message shown.
    const bare = await h.open({ viewport: PHONE });
    await bare.goto();
    await waitForText(bare.status, text('error.noWallet'));
    await bare.page.getByLabel(text('manual.address')).fill(Wallet.createRandom().address);
    await bare.page.getByRole('button', { name: text('manual.getMessage') }).click();
    await bare.page.locator('#manual-sign').waitFor();
    widths['without a wallet'] = await scrollWidth(bare.page);

    const { login, walletButton, release } = await openOnPhoneWithHeldSignature();
    widths['with a wallet'] = await scrollWidth(login.page);
    await walletButton.click();
    await login.page.locator('#details').waitFor();
    widths['showing the message to sign'] = await scrollWidth(login.page);
    release();
    assertFitsPhone(widths);
  });

  it('fits a 360 px wide phone without sideways scrolling on the consent page', async () => {
    const { login, walletButton, release } = await openOnPhoneWithHeldSignature();
    release();
    await walletButton.click();
    await login.page.getByRole('button', { name: text('consent.allow') }).waitFor();
    // Layout is measured once the stylesheets have arrived (the load event), not when the button is in the DOM.
    await login.page.waitForLoadState('load');
    assertFitsPhone({ consent: await scrollWidth(login.page) });
  });

  it("shows the operator's product name, logo and colour", async () => {
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }] });
    await login.goto();
    const { page } = login;
    assert.equal(await page.title(), `${text('login.title')} · Acme ID`);
    assert.equal((await page.locator('header.brand').textContent())?.trim(), 'Acme ID');
    const logo = page.locator('header.brand img');
    assert.equal(await logo.getAttribute('src'), BRAND_LOGO);
    assert.ok(await logo.evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), 'the logo renders under the CSP');

    const css = await (await page.request.get(`${h.server.issuer}/static/brand.css`)).text();
    assert.match(css, /--accent:\s*#0a7d32\s*[;}]/);
    const button = page.getByRole('button', { name: text('login.browserWallet') });
    assert.match((await button.getAttribute('class')) ?? '', /\bprimary\b/, 'a single wallet is the primary action');
    assert.equal(await button.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(10, 125, 50)');

    await button.click();
    const allow = page.getByRole('button', { name: text('consent.allow') });
    await allow.waitFor();
    // Computed colours are read once the stylesheets have arrived (the load event).
    await page.waitForLoadState('load');
    assert.equal(await page.title(), `${text('consent.title')} · Acme ID`);
    assert.equal(await allow.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(10, 125, 50)');
  });

  it("keeps the operator's colour readable in the dark colour scheme", async () => {
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }], context: { colorScheme: 'dark' } });
    await login.goto();
    const button = login.page.getByRole('button', { name: text('login.browserWallet') });
    const style = await button.evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color }));
    assert.deepEqual(style, { bg: 'rgb(10, 125, 50)', fg: 'rgb(255, 255, 255)' }, "white on the dark green, not the dark scheme's near-black");
    // Links stay in the dark scheme's own light colour, not a dark brand colour on a dark card.
    const link = await login.page.locator('#cancel').evaluate((el) => getComputedStyle(el).color);
    assert.equal(link, 'rgb(142, 162, 255)');
  });
});
