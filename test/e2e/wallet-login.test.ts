// Signing in from the login page with a browser wallet, and saying no: the RP gets a code it can
// redeem, or access_denied.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { walletInfo } from '../helpers/browser.ts';
import { RP_LOGO_URI, skipWithoutBrowser, startHarness, text, waitForText, type Harness } from '../helpers/e2e.ts';

describe('signing in with a browser wallet', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  afterEach(() => h.closePages());
  after(() => h?.close());

  it('lists every EIP-6963 wallet by name and icon and signs with the one the user picks', async () => {
    const first = { account: Wallet.createRandom(), info: walletInfo('Alpha Wallet', '#d8584f') };
    const second = { account: Wallet.createRandom(), info: walletInfo('Beta Wallet', '#4f8ad8') };
    const login = await h.open({ wallets: [first, second] });
    await login.goto();

    // Who is asking: the client's name, home page, logo, privacy policy and terms from its registered metadata.
    const client = login.page.locator('.client');
    assert.equal(await client.locator('.client-name').textContent(), 'Browser RP');
    const links = await client.getByRole('link').evaluateAll((as) => as.map((a) => [a.textContent, (a as HTMLAnchorElement).href]));
    assert.deepEqual(links, [
      ['https://rp.example', 'https://rp.example/'],
      [text('client.policy'), 'https://rp.example/privacy'],
      [text('client.tos'), 'https://rp.example/terms'],
    ]);
    const logo = client.locator('img.logo');
    assert.equal(await logo.getAttribute('src'), RP_LOGO_URI);
    await login.page.waitForFunction(() => (document.querySelector('img.logo') as HTMLImageElement | null)?.naturalWidth === 48);

    const buttons = login.page.locator('#wallets button');
    await buttons.nth(1).waitFor();
    assert.deepEqual(await buttons.allTextContents(), ['Alpha Wallet', 'Beta Wallet']);
    assert.deepEqual(await buttons.locator('img').evaluateAll((imgs) => imgs.map((img) => (img as HTMLImageElement).src)), [first.info.icon, second.info.icon]);
    // The icons are data: URLs the CSP allows, so they actually render.
    assert.ok(
      await buttons
        .locator('img')
        .first()
        .evaluate((img) => (img as HTMLImageElement).naturalWidth > 0),
    );

    // The signature is held while the choice is checked: once it is given the page moves on to consent.
    const { release } = login.wallets[1]!.holdSignature();
    await login.page.getByRole('button', { name: 'Beta Wallet' }).click();
    await login.page.getByRole('button', { name: 'Beta Wallet', pressed: true }).waitFor();
    assert.equal(await login.page.getByRole('button', { name: 'Alpha Wallet' }).getAttribute('aria-pressed'), 'false');
    release();
    const claims = await login.allow();
    assert.equal(claims.sub, second.account.address);
    assert.equal(login.wallets[0]!.calls.length, 0, 'the wallet not chosen is never asked anything');
    assert.equal(login.wallets[1]!.signatureRequests, 1);
  });

  it('ignores a second click on the wallet while it is being asked: one request, one challenge, one signature', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account, info: walletInfo('Alpha Wallet') }] });
    const { asked, release } = login.wallets[0]!.holdSignature();
    await login.goto();
    const button = login.page.getByRole('button', { name: 'Alpha Wallet' });
    await button.dblclick();
    await asked;
    await button.click();
    release();
    assert.equal((await login.allow()).sub, account.address);
    const methods = login.wallets[0]!.calls.map((c) => c.method);
    assert.deepEqual(methods, ['eth_requestAccounts', 'eth_chainId', 'personal_sign']);
  });

  it('offers a legacy window.ethereum as "Browser wallet" when no wallet announces itself', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account }] });
    await login.goto();
    await login.page.getByRole('button', { name: text('login.browserWallet') }).click();
    const claims = await login.allow();
    assert.equal(claims.sub, account.address);
  });

  it('lists a wallet that announces itself late and takes back "no wallet was found"', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account, info: walletInfo('Slow Wallet'), late: true }] });
    await login.goto();
    await waitForText(login.status, text('error.noWallet'));
    await login.wallets[0]!.announce();
    await login.page.getByRole('button', { name: 'Slow Wallet' }).waitFor();
    await waitForText(login.status, '');
    await login.page.getByRole('button', { name: 'Slow Wallet' }).click();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('shows the exact message being signed while the wallet asks for the signature', async () => {
    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account, info: walletInfo('Alpha Wallet') }] });
    const { asked, release } = login.wallets[0]!.holdSignature();
    await login.goto();
    await login.page.getByRole('button', { name: 'Alpha Wallet' }).click();

    const message = await asked;
    await waitForText(login.status, text('status.sign', { wallet: 'Alpha Wallet' }));
    assert.equal(await login.page.locator('#message').textContent(), message);
    assert.equal(await login.page.locator('#address').textContent(), account.address);
    assert.equal(await login.page.locator('#network').textContent(), 'Ethereum');
    release();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('sends access_denied to the RP when the user denies consent', async () => {
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }] });
    await login.goto();
    await login.page.getByRole('button', { name: text('login.browserWallet') }).click();
    await login.page.getByRole('button', { name: text('consent.deny') }).click();
    await assertAccessDenied(login);
  });

  it('sends access_denied to the RP when the user cancels on the login page', async () => {
    const login = await h.open({ wallets: [{ account: Wallet.createRandom() }] });
    await login.goto();
    await login.page.getByRole('link', { name: text('login.cancel') }).click();
    await assertAccessDenied(login);
    assert.equal(login.wallets[0]!.calls.length, 0);
  });

  async function assertAccessDenied(login: Awaited<ReturnType<Harness['open']>>) {
    const callback = await login.callback();
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('code'), null);
    // The RP's own library sees a well-formed error response (state checked) and gets no tokens.
    await assert.rejects(login.redeem(), (err: unknown) => err instanceof oidc.AuthorizationResponseError && err.error === 'access_denied');
  }
});
