// Signing on another device (http/handoffs.ts) in two browsers: a desktop without a wallet shows a QR code, a link and a
// confirmation code; a phone with a wallet opens the link, shows the same code and signs; the desktop then continues to
// the RP by itself and the RP redeems a real code. Nothing of the RP's request reaches the phone, the link serves one
// device and one login, and an unused link expires on both screens.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import type { Page, Response } from 'playwright-core';
import { walletInfo } from '../helpers/browser.ts';
import { DESKTOP, PHONE, skipWithoutBrowser, startHarness, text, waitForText, type Harness, type LoginPage, type RelyingParty } from '../helpers/e2e.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { qrDataUrl } from '../../src/http/deep-links.ts';

const HANDOFF_TTL = 60;

describe('signing in on a phone for a desktop browser', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  /** A first-party client (no consent): the desktop goes from the login page straight to the RP. */
  let firstParty: RelyingParty;
  before(async () => {
    h = await startHarness({ env: { HANDOFF_TTL: String(HANDOFF_TTL) } });
    firstParty = await createOpenidClient(h.server, { client_name: 'Phone RP', skip_consent: true });
  });
  afterEach(() => h.closePages());
  after(() => h?.close());

  /** A desktop browser without a wallet at the login page, showing the phone section's link and code. */
  async function desktopOffer(viewport = DESKTOP, violations: string[] = []): Promise<{ desktop: LoginPage; link: string; code: string }> {
    const desktop = await h.open({ viewport, rp: firstParty });
    watchCsp(desktop.page, violations);
    await desktop.goto();
    await waitForText(desktop.page.locator('#phone-status'), text('phone.waiting'));
    return { desktop, ...(await shown(desktop.page)) };
  }

  /** Collects what the browser reports of the page's CSP refusing something. */
  const watchCsp = (page: Page, violations: string[]) =>
    page.on('console', (msg) => /Content Security Policy|Refused to/i.test(msg.text()) && violations.push(msg.text()));

  /** The link and code the desktop's phone section shows now. */
  async function shown(page: Page): Promise<{ link: string; code: string }> {
    const link = (await page.locator('#phone-link').getAttribute('href'))!;
    const code = (await page.locator('#phone-code').textContent())!;
    assert.match(code, /^\d{3} \d{3}$/);
    return { link, code };
  }

  /** A phone browser with a wallet of its own (not at any login: it only ever opens links). */
  const phoneWith = async (account = Wallet.createRandom()) => ({
    account,
    phone: await h.open({ viewport: PHONE, wallets: [{ account, info: walletInfo('Alpha Wallet') }] }),
  });

  /** The phone opens the link and sees the error page with this reason code and status. */
  async function refused(page: Page, link: string, reason: string, status: number) {
    const res = await page.goto(link);
    assert.equal(res?.status(), status, reason);
    await page.getByRole('heading', { name: text('handoff.errorTitle') }).waitFor();
    assert.equal(await page.locator('code').textContent(), reason);
    assert.equal(await page.locator('#wallets').count(), 0, 'nothing to sign with');
  }

  it("lets a phone sign the desktop's login: same code on both screens, the desktop continues by itself", async () => {
    const violations: string[] = [];
    const { desktop, link, code } = await desktopOffer(DESKTOP, violations);
    const { page } = desktop;
    // No wallet here: the page says so and opens the phone section by itself, with the QR code of the link.
    await waitForText(desktop.status, text('error.noWallet'));
    assert.equal(await page.locator('#phone').getAttribute('open'), '');
    assert.equal(await page.locator('#phone-link').textContent(), link);
    assert.match(link, new RegExp(`^${h.server.issuer}/handoff/[A-Za-z0-9_-]{43}$`));
    const qr = page.getByRole('img', { name: text('phone.qrAlt') });
    assert.equal(await qr.getAttribute('src'), await qrDataUrl(link));
    assert.ok(await qr.evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), 'the QR image renders under the CSP');

    // The RP's request stays on the desktop: not in the link, nor anything the phone loads or sends.
    const params = desktop.url.searchParams;
    const uid = new URL(page.url()).pathname.split('/').pop()!;
    const secrets = [uid, params.get('state')!, params.get('nonce')!, params.get('code_challenge')!];
    for (const secret of secrets) assert.ok(!link.includes(secret) && !link.includes(encodeURIComponent(secret)), `the link holds ${secret}`);

    const { account, phone } = await phoneWith();
    watchCsp(phone.page, violations);
    const sent: string[] = [];
    phone.context.on('request', (req) => sent.push(`${req.url()}\n${req.postData() ?? ''}`));
    const held = phone.wallets[0]!.holdSignature();
    const opened = await phone.page.goto(link);
    assert.equal(opened?.status(), 200);
    await phone.page.getByRole('heading', { name: text('handoff.title') }).waitFor();
    assert.equal(await phone.page.locator('.confirmation-code').textContent(), code, 'the phone shows the desktop code');
    assert.equal(await phone.page.locator('.client-name').textContent(), 'Phone RP');
    assert.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth), PHONE.width, 'no sideways scrolling');
    const html = [await opened!.text(), await phone.page.content()];

    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    const message = await held.asked;
    // Asking for the message claimed the link: the desktop says the phone has it.
    await waitForText(page.locator('#phone-status'), text('phone.opened'));
    held.release();
    await waitForText(phone.status, text('handoff.done'));
    for (const id of ['#wallets', '#manual']) assert.ok(await phone.page.locator(id).isHidden(), `${id} is hidden once signed`);

    // The desktop, untouched since, continues to the RP, which redeems its code for the phone wallet's address.
    assert.equal((await desktop.redeem()).sub, account.address);
    html.push(await phone.page.content());
    for (const secret of secrets.slice(1)) {
      assert.ok(!html.some((doc) => doc.includes(secret)), `the phone page holds ${secret}`);
      assert.ok(!message.includes(secret), `the signed message holds ${secret}`);
      assert.ok(!sent.some((s) => s.includes(secret) || s.includes(encodeURIComponent(secret))), `a phone request carries ${secret}`);
    }
    // The interaction's id reaches the phone only as the message's Request ID, after the link was claimed (EIP-4361).
    assert.ok(!html.slice(0, 2).some((doc) => doc.includes(uid)), 'the phone page names the interaction');
    assert.ok(!sent.some((s) => s.split('\n')[0]!.includes(uid)), 'a phone request URL names the interaction');
    assert.ok(message.includes(`\nRequest ID: ${uid}`));
    // The phone holds only its own device cookie, scoped to the link, none of the desktop's.
    const desktopCookies = await desktop.context.cookies();
    const phoneCookies = await phone.context.cookies();
    assert.ok(desktopCookies.length > 0);
    assert.deepEqual(
      phoneCookies.map((c) => [c.name, c.path]),
      [['wallet_oidc_handoff', new URL(link).pathname]],
    );
    assert.ok(!phoneCookies.some((p) => desktopCookies.some((d) => d.value === p.value)));

    assert.deepEqual(violations, [], 'neither page trips its CSP');

    // Used: the same phone, or any other, opening the link again is told so.
    await refused(phone.page, link, 'handoff_used', 409);
    await refused((await phoneWith()).phone.page, link, 'handoff_used', 409);
  });

  it('makes a link on a desktop with a wallet only when the phone section is opened, and continues to consent', async () => {
    const desktop = await h.open({ wallets: [{ account: Wallet.createRandom(), info: walletInfo('Desk Wallet') }] });
    const asked: string[] = [];
    desktop.page.on('request', (req) => req.url().endsWith('/handoff') && asked.push(req.method()));
    await desktop.goto();
    await desktop.page.getByRole('button', { name: 'Desk Wallet' }).waitFor();
    assert.equal(await desktop.page.locator('#phone').getAttribute('open'), null, 'closed while a wallet is here');
    assert.ok(await desktop.page.locator('#phone-offer').isHidden());
    assert.deepEqual(asked, [], 'no link is made for a closed section');

    await desktop.page.getByText(text('phone.title')).click();
    await waitForText(desktop.page.locator('#phone-status'), text('phone.waiting'));
    assert.equal(asked[0], 'POST', 'the link is made when the section opens');
    const { link } = await shown(desktop.page);
    const { account, phone } = await phoneWith();
    await phone.page.goto(link);
    assert.equal(await phone.page.locator('.client-name').textContent(), 'Browser RP');
    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(phone.status, text('handoff.done'));
    // A third-party client: the desktop goes on by itself to its consent page, where its user allows.
    assert.equal((await desktop.allow()).sub, account.address);
    assert.equal(desktop.wallets[0]!.calls.length, 0, "the desktop's own wallet was never asked");
  });

  it('lets a phone without a wallet sign by hand, and tells it where the sign-in went on', async () => {
    const { desktop, link } = await desktopOffer();
    const account = Wallet.createRandom();
    const phone = await h.open({ viewport: PHONE });
    await phone.page.goto(link);
    await waitForText(phone.status, text('error.noWallet'));
    await phone.page.getByLabel(text('manual.address')).fill(account.address);
    await phone.page.getByRole('button', { name: text('manual.getMessage') }).click();
    const message = phone.page.getByLabel(text('manual.message'));
    await message.waitFor();
    await phone.page.getByLabel(text('manual.signature')).fill(await account.signMessage(await message.inputValue()));
    await phone.page.getByRole('button', { name: text('manual.submit') }).click();
    // Said in the page's own status line (no longer "no wallet"), not in the manual section, which goes away.
    await waitForText(phone.status, text('handoff.done'));
    assert.ok(await phone.status.isVisible());
    assert.equal(await phone.status.getAttribute('class'), '');
    assert.ok(await phone.page.locator('#manual').isHidden(), 'nothing more to sign');
    assert.equal((await desktop.redeem()).sub, account.address);
  });

  it('refuses the link to a second phone once the first asked for a message, and the first one still signs', async () => {
    const { desktop, link } = await desktopOffer();
    const first = await phoneWith();
    const held = first.phone.wallets[0]!.holdSignature();
    await first.phone.page.goto(link);
    await first.phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await held.asked;

    const second = await phoneWith();
    await refused(second.phone.page, link, 'handoff_taken', 409);
    assert.equal(second.phone.wallets[0]!.calls.length, 0);

    held.release();
    await waitForText(first.phone.status, text('handoff.done'));
    assert.equal((await desktop.redeem()).sub, first.account.address);
  });

  it('offers a new code while another device holds the link, as the refused phone is told to ask for', async () => {
    const { desktop, link } = await desktopOffer();
    const { page } = desktop;
    const first = await phoneWith();
    const held = first.phone.wallets[0]!.holdSignature();
    await first.phone.page.goto(link);
    await first.phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await held.asked;
    await waitForText(page.locator('#phone-status'), text('phone.opened'));

    const second = await phoneWith();
    await refused(second.phone.page, link, 'handoff_taken', 409);
    await page.getByRole('button', { name: text('phone.newCode') }).click();
    await waitForText(page.locator('#phone-status'), text('phone.waiting'));
    const renewed = await shown(page);
    assert.notEqual(renewed.link, link);

    // The device that held the old link signs too late: that link is gone.
    held.release();
    await first.phone.page.locator('#status.error').waitFor();
    await second.phone.page.goto(renewed.link);
    await second.phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(second.phone.status, text('handoff.done'));
    assert.equal((await desktop.redeem()).sub, second.account.address);
  });

  it('expires a link nobody opened: the desktop offers a new code that works, and the old link is gone', async () => {
    const { desktop, link: old } = await desktopOffer(PHONE);
    const { page } = desktop;
    // At a phone's width the long link wraps: no sideways scrolling.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), PHONE.width);
    h.clock.advance(HANDOFF_TTL + 1);
    await waitForText(page.locator('#phone-status'), text('phone.expired'));
    assert.ok(await page.locator('#phone-offer').isHidden(), 'the expired QR code and link are taken away');
    const again = page.getByRole('button', { name: text('phone.newCode') });
    assert.ok(await again.isVisible());

    const { phone: late } = await phoneWith();
    await refused(late.page, old, 'handoff_expired', 410);

    await again.click();
    await waitForText(page.locator('#phone-status'), text('phone.waiting'));
    assert.ok(await again.isHidden());
    const { link, code } = await shown(page);
    assert.notEqual(link, old);
    assert.equal(await page.getByRole('img', { name: text('phone.qrAlt') }).getAttribute('src'), await qrDataUrl(link));

    await refused(late.page, old, 'handoff_not_found', 404);
    const { account, phone } = await phoneWith();
    await phone.page.goto(link);
    assert.equal(await phone.page.locator('.confirmation-code').textContent(), code);
    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(phone.status, text('handoff.done'));
    assert.equal((await desktop.redeem()).sub, account.address);
  });

  it('says on the phone page when the link expires unused, and the server refuses it then too', async () => {
    const { desktop, link } = await desktopOffer();
    const { phone } = await phoneWith();
    // The page's own clock, which its expiry timer follows (the server's is moved separately).
    await phone.page.clock.install();
    await phone.page.goto(link);
    const note = phone.page.locator('#handoff-expiry');
    assert.equal(await note.textContent(), text('handoff.expiry'));
    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).waitFor();

    await phone.page.clock.fastForward((HANDOFF_TTL + 1) * 1000);
    await waitForText(note, text('handoff.expired'));
    assert.match((await note.getAttribute('class'))!, /\berror\b/);
    for (const id of ['#wallets', '#manual', '#wallet-apps']) assert.ok(await phone.page.locator(id).isHidden(), `${id} is hidden`);

    h.clock.advance(HANDOFF_TTL + 1);
    await refused(phone.page, link, 'handoff_expired', 410);
    await waitForText(desktop.page.locator('#phone-status'), text('phone.expired'));
    assert.equal(phone.wallets[0]!.calls.length, 0, 'the wallet was never asked');
  });

  it('lets a phone whose own clock is off sign while the server still takes the link', async () => {
    const { desktop, link } = await desktopOffer();
    const { account, phone } = await phoneWith();
    // A phone set ten minutes ahead (no network time, or set by hand): the page's timer must not expire the link early.
    await phone.page.clock.install({ time: Date.now() + 600_000 });
    await phone.page.goto(link);
    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(phone.status, text('handoff.done'));
    assert.equal((await desktop.redeem()).sub, account.address);
  });

  it("completes only the login whose link the phone opened: another desktop's stays waiting", async () => {
    const a = await desktopOffer();
    const b = await desktopOffer();
    assert.notEqual(a.link, b.link);
    const { account, phone } = await phoneWith();
    await phone.page.goto(a.link);
    await phone.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(phone.status, text('handoff.done'));
    assert.equal((await a.desktop.redeem()).sub, account.address);

    // B asks where its own link stands after A's login ended: still waiting, still on the login page.
    const uidB = new URL(b.desktop.page.url()).pathname.split('/').pop()!;
    const poll: Response = await b.desktop.page.waitForResponse(
      (res) => res.url() === `${h.server.issuer}/interaction/${uidB}/handoff` && res.request().method() === 'GET',
    );
    assert.deepEqual(await poll.json(), { status: 'waiting' });
    assert.equal(await b.desktop.page.locator('#phone-status').textContent(), text('phone.waiting'));
    assert.equal(new URL(b.desktop.page.url()).pathname, `/interaction/${uidB}`);
  });
});
