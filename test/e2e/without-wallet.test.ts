// A browser with no wallet: the page says so, then offers signing elsewhere (copy the message, paste the signature)
// and on a phone: a one-time handoff link (a QR code, wallet deep links) that never carries the request; the phone's
// side is test/e2e/cross-device.test.ts.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Signature, Wallet } from 'ethers';
import { PHONE, skipWithoutBrowser, startHarness, text, waitForText, type Harness, type LoginPage } from '../helpers/e2e.ts';
import { qrDataUrl } from '../../src/http/deep-links.ts';

describe('the login page without a browser wallet', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  afterEach(() => h.closePages());
  after(() => h?.close());

  /** A login page in a browser with no wallet, once it has given up looking for one. */
  async function openWithoutWallet(opts: Parameters<Harness['open']>[0] = {}): Promise<LoginPage> {
    const login = await h.open(opts);
    await login.goto();
    await waitForText(login.status, text('error.noWallet'));
    assert.equal(await login.page.locator('#wallets button').count(), 0);
    return login;
  }

  it('signs in with a message copied out of the page and a signature pasted back', async () => {
    const account = Wallet.createRandom();
    const login = await openWithoutWallet({ context: { permissions: ['clipboard-read', 'clipboard-write'] } });
    const { page } = login;
    assert.equal(await page.locator('#manual').getAttribute('open'), '', 'the manual section opens by itself');

    await page.getByLabel(text('manual.address')).fill(account.address);
    await page.getByLabel(text('manual.network'), { exact: true }).selectOption({ label: 'Base' });
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    const shown = page.getByLabel(text('manual.message'));
    await shown.waitFor();
    const message = await shown.inputValue();
    assert.match(message, new RegExp(`^${new URL(h.server.issuer).host} wants you to sign in with your Ethereum account:\\n${account.address}\\n`));
    assert.match(message, /\nChain ID: 8453\n/);

    await page.getByRole('button', { name: text('manual.copy') }).click();
    await waitForText(page.locator('#manual-status'), text('manual.copied'));
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, message);

    // Signed "elsewhere": by the test, with the same key, over the text that was copied.
    await page.getByLabel(text('manual.signature')).fill(await account.signMessage(copied));
    await page.getByRole('button', { name: text('manual.submit') }).click();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('explains a signature from another key, and signs in after getting a new message', async () => {
    const account = Wallet.createRandom();
    const login = await openWithoutWallet();
    const { page } = login;
    /** Clicks "Get the message" and waits for a message other than the one shown before. */
    const getMessage = async () => {
      const before = await page.locator('#manual-message').inputValue();
      await page.getByRole('button', { name: text('manual.getMessage') }).click();
      await page.waitForFunction((old) => {
        const value = (document.getElementById('manual-message') as HTMLTextAreaElement).value;
        return value !== '' && value !== old;
      }, before);
      return page.getByLabel(text('manual.message')).inputValue();
    };
    const submit = async (signature: string) => {
      await page.getByLabel(text('manual.signature')).fill(signature);
      await page.getByRole('button', { name: text('manual.submit') }).click();
    };
    await page.getByLabel(text('manual.address')).fill(account.address);
    const first = await getMessage();
    await submit(await Wallet.createRandom().signMessage(first));
    const said = page.locator('#manual-status');
    await said.filter({ hasText: text('error.server', { description: '' }) }).waitFor();
    assert.equal(await said.getAttribute('class'), 'error');
    // The refused attempt used up that challenge (the server burns a nonce on any failure):
    // the page says so and takes the message away rather than invite a second signature of it.
    assert.ok((await said.textContent())!.endsWith(text('manual.getNew')));
    assert.equal(await page.locator('#manual-sign').isHidden(), true);

    const second = await getMessage();
    assert.notEqual(second, first);
    await submit(await account.signMessage(second));
    assert.equal((await login.allow()).sub, account.address);
  });

  it('keeps the message when what was pasted is not a signature, and takes one without 0x or with line breaks', async () => {
    const account = Wallet.createRandom();
    const login = await openWithoutWallet();
    const { page } = login;
    await page.getByLabel(text('manual.address')).fill(account.address);
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    await page.locator('#manual-sign').waitFor();
    const message = await page.getByLabel(text('manual.message')).inputValue();
    const submit = page.getByRole('button', { name: text('manual.submit') });

    await page.getByLabel(text('manual.signature')).fill('Signature: not hex');
    await submit.click();
    await waitForText(page.locator('#manual-status'), text('manual.badSignature'));
    assert.equal(await page.locator('#manual-sign').isVisible(), true, 'the message is still there to sign');
    assert.equal(await page.getByLabel(text('manual.message')).inputValue(), message);

    // As some tools print it: no 0x prefix, folded over lines.
    const hex = (await account.signMessage(message)).slice(2);
    await page.getByLabel(text('manual.signature')).fill(`${hex.slice(0, 64)}\n${hex.slice(64)}\n`);
    await submit.click();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('takes a 64-byte compact signature (EIP-2098), and refuses one longer than the server takes without sending it', async () => {
    const account = Wallet.createRandom();
    const login = await openWithoutWallet();
    const { page } = login;
    const verifies: string[] = [];
    page.on('request', (req) => req.url().endsWith('/verify') && verifies.push(req.url()));
    await page.getByLabel(text('manual.address')).fill(account.address);
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    await page.locator('#manual-sign').waitFor();
    const message = await page.getByLabel(text('manual.message')).inputValue();
    const submit = page.getByRole('button', { name: text('manual.submit') });

    // 4097 bytes: over the server's limit (a contract wallet's signature is at most 4096).
    await page.getByLabel(text('manual.signature')).fill(`0x${'ab'.repeat(4097)}`);
    await submit.click();
    await waitForText(page.locator('#manual-status'), text('manual.badSignature'));
    assert.equal(verifies.length, 0, 'nothing was sent');

    const compact = Signature.from(await account.signMessage(message)).compactSerialized;
    assert.equal((compact.length - 2) / 2, 64);
    await page.getByLabel(text('manual.signature')).fill(compact);
    await submit.click();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('takes away an earlier message when getting a new one fails, so nothing stale is signed', async () => {
    const { page } = await openWithoutWallet();
    await page.getByLabel(text('manual.address')).fill(Wallet.createRandom().address);
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    await page.locator('#manual-sign').waitFor();

    await page.getByLabel(text('manual.address')).fill('0x1234');
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    const said = page.locator('#manual-status');
    await said.filter({ hasText: text('error.server', { description: '' }) }).waitFor();
    assert.equal(await said.getAttribute('class'), 'error');
    assert.equal(await page.locator('#manual-sign').isHidden(), true, 'the earlier message and its submit button are gone');
  });

  it("offers signing on a phone: a handoff link as a QR code and in four wallet apps' deep links, with nothing of the request", async () => {
    const login = await openWithoutWallet({ viewport: PHONE });
    const { page } = login;
    const phone = page.locator('#phone');
    assert.equal(await phone.getAttribute('open'), '', 'the phone section opens by itself');
    await waitForText(page.locator('#phone-status'), text('phone.waiting'));
    const link = (await page.locator('#phone-link').getAttribute('href'))!;
    assert.match(link, new RegExp(`^${h.server.issuer}/handoff/[A-Za-z0-9_-]{43}$`));
    assert.match((await page.locator('#phone-code').textContent())!, /^\d{3} \d{3}$/);

    const links = page.locator('#phone-deep-links').getByRole('link');
    assert.deepEqual(await links.allTextContents(), ['MetaMask', 'Coinbase Wallet', 'Rainbow', 'Trust Wallet']);
    // Each holds the handoff link: the wallets' link services never see the interaction or the RP's request.
    assert.deepEqual(await links.evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href)), [
      // MetaMask's documented form is the URL without its scheme, not encoded (metamask.github.io/metamask-deeplinks).
      `https://metamask.app.link/dapp/${link.replace(/^https?:\/\//, '')}`,
      `https://go.cb-w.com/dapp?cb_url=${encodeURIComponent(link)}`,
      `https://rnbwapp.com/dapp?url=${encodeURIComponent(link)}`,
      `https://link.trustwallet.com/open_url?coin_id=60&url=${encodeURIComponent(link)}`,
    ]);

    const qr = page.getByRole('img', { name: text('phone.qrAlt') });
    assert.ok(await qr.isVisible());
    assert.equal(await qr.getAttribute('src'), await qrDataUrl(link), 'the QR code holds the same link');
    assert.ok(await qr.evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), 'the QR image renders under the CSP');

    const uid = new URL(page.url()).pathname.split('/').pop()!;
    for (const secret of [uid, login.url.searchParams.get('state')!, login.url.searchParams.get('code_challenge')!]) {
      assert.ok(!link.includes(secret) && !link.includes(encodeURIComponent(secret)), `the link holds ${secret}`);
    }
  });
});
