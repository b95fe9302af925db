// Pictures of every page a user meets (signing on a phone too: the computer's and the phone's), at desktop and phone
// widths, saved to test/artifacts/ (<page>-<desktop|phone>.png) for review and the README. Each waits for the page's
// real content first.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { screenshot, walletInfo } from '../helpers/browser.ts';
import { DESKTOP, PHONE, skipWithoutBrowser, startHarness, text, waitForText, type Harness } from '../helpers/e2e.ts';

const VIEWPORTS = { desktop: DESKTOP, phone: PHONE };

describe('screenshots of the login pages', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  afterEach(() => h.closePages());
  after(() => h?.close());

  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    it(`shows the whole journey at ${size} width: wallets, message, consent, sign-out`, async () => {
      const account = Wallet.createRandom();
      const login = await h.open({
        viewport,
        wallets: [
          { account: Wallet.createRandom(), info: walletInfo('Alpha Wallet', '#d8584f') },
          { account, info: walletInfo('Beta Wallet', '#4f8ad8') },
        ],
      });
      const { release } = login.wallets[1]!.holdSignature();
      const { page } = login;

      await login.goto();
      await page.getByRole('button', { name: 'Beta Wallet' }).waitFor();
      await screenshot(page, `login-wallets-${size}`);

      await page.getByRole('button', { name: 'Beta Wallet' }).click();
      await waitForText(login.status, text('status.sign', { wallet: 'Beta Wallet' }));
      await screenshot(page, `login-message-${size}`);

      release();
      await page.getByRole('button', { name: text('consent.allow') }).waitFor();
      await page.waitForLoadState('load');
      await page.waitForFunction(() => (document.querySelector('img.logo') as HTMLImageElement | null)?.complete === true);
      await screenshot(page, `consent-${size}`);
      assert.equal((await login.allow()).sub, account.address);
      await login.arrived();

      // Signing out of the session this login made (RP-initiated logout without a redirect).
      await page.goto(`${h.server.issuer}/session/end?client_id=${h.rp.client.client_id}`);
      await page.getByRole('heading', { name: text('logout.question', { client: 'Browser RP' }) }).waitFor();
      await screenshot(page, `logout-${size}`);
      await page.getByRole('button', { name: text('logout.yes') }).click();
      await page.getByRole('heading', { name: text('logoutSuccess.title') }).waitFor();
      await screenshot(page, `logout-success-${size}`);
    });

    it(`shows signing on a phone at ${size} width: the QR code and code waiting, the phone's page, and after signing`, async () => {
      const desktop = await h.open({ viewport });
      await desktop.goto();
      await waitForText(desktop.page.locator('#phone-status'), text('phone.waiting'));
      await desktop.page.waitForFunction(() => (document.getElementById('phone-qr') as HTMLImageElement).naturalWidth > 0);
      await screenshot(desktop.page, `login-phone-waiting-${size}`);
      const link = (await desktop.page.locator('#phone-link').getAttribute('href'))!;
      const code = await desktop.page.locator('#phone-code').textContent();

      const account = Wallet.createRandom();
      const phone = await h.open({ viewport, wallets: [{ account, info: walletInfo('Alpha Wallet', '#d8584f') }] });
      await phone.page.goto(link);
      await phone.page.getByRole('button', { name: 'Alpha Wallet' }).waitFor();
      assert.equal(await phone.page.locator('.confirmation-code').textContent(), code);
      await phone.page.waitForFunction(() => (document.querySelector('img.logo') as HTMLImageElement | null)?.complete === true);
      await screenshot(phone.page, `handoff-${size}`);

      await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
      await waitForText(phone.status, text('handoff.done'));
      await screenshot(phone.page, `handoff-done-${size}`);
      assert.equal((await desktop.allow()).sub, account.address);
    });

    it(`shows the pages for trouble at ${size} width: no wallet, wrong network, unknown interaction`, async () => {
      const bare = await h.open({ viewport });
      await bare.goto();
      await waitForText(bare.status, text('error.noWallet'));
      // The phone section opens by itself and shows its QR code once the server made the link.
      await waitForText(bare.page.locator('#phone-status'), text('phone.waiting'));
      await screenshot(bare.page, `login-no-wallet-${size}`);

      const wrong = await h.open({ viewport, wallets: [{ account: Wallet.createRandom(), chainId: 999999 }] });
      await wrong.goto();
      await wrong.page.getByRole('button', { name: text('login.browserWallet') }).click();
      await waitForText(wrong.status, text('error.wrongNetwork', { chain: text('login.unknownChain', { id: '999999' }) }));
      await screenshot(wrong.page, `login-wrong-network-${size}`);

      const response = await bare.page.goto(`${h.server.issuer}/interaction/no-such-interaction`);
      assert.equal(response?.status(), 400);
      await bare.page.getByRole('heading', { name: text('error.title') }).waitFor();
      await screenshot(bare.page, `error-${size}`);
    });

    it(`shows the device sign-in pages at ${size} width: the code form, a wrong code, the confirmation`, async () => {
      const device = await h.server.addClient({
        client_name: 'Wallet CLI',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      });
      const res = await fetch(`${h.server.issuer}/device/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'wallet-cli/1.4 (Linux x86_64)' },
        body: new URLSearchParams({ client_id: device.client_id, scope: 'openid' }),
      });
      const { verification_uri, verification_uri_complete } = (await res.json()) as { verification_uri: string; verification_uri_complete: string };
      const { page } = await h.open({ viewport });
      await page.goto(verification_uri);
      await page.getByLabel(text('device.input.label')).waitFor();
      await screenshot(page, `device-code-${size}`);
      await page.getByLabel(text('device.input.label')).fill('BCDF-GHJK');
      await page.getByRole('button', { name: text('device.input.continue') }).click();
      await page.getByText(text('device.problem.notFound')).waitFor();
      await screenshot(page, `device-code-wrong-${size}`);
      await page.goto(verification_uri_complete);
      await page.getByRole('heading', { name: text('device.confirm.title') }).waitFor();
      await screenshot(page, `device-confirm-${size}`);
    });
  }
});
