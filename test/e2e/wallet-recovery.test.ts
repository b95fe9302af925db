// What the login page does when an ordinary thing goes wrong: each failure is explained with the
// page's own words and leads, through one click or none, to a completed login.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { walletInfo } from '../helpers/browser.ts';
import type { TestWallet } from '../helpers/login.ts';
import { skipWithoutBrowser, startHarness, text, waitForText, type Harness, type LoginPage } from '../helpers/e2e.ts';

const CHALLENGE_TTL = 60;
const WALLET = 'Alpha Wallet';

describe('recovering from a failed login', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  before(async () => (h = await startHarness({ env: { CHALLENGE_TTL: String(CHALLENGE_TTL) } })));
  afterEach(() => h.closePages());
  after(() => h?.close());

  /** A login page with one announced wallet, already clicked. */
  async function startWith(wallet: { account: TestWallet; chainId?: number }, prepare?: (login: LoginPage) => unknown) {
    const login = await h.open({ wallets: [{ ...wallet, info: walletInfo(WALLET) }] });
    await prepare?.(login);
    await login.goto();
    await login.page.getByRole('button', { name: WALLET }).click();
    return { login, wallet: login.wallets[0]!, tryAgain: login.page.getByRole('button', { name: text('login.retry') }) };
  }

  it('explains a rejected signature and signs in on "Try again"', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account }, (l) => l.wallets[0]!.rejectNextSignature());
    // The second request is held while focus is checked: once it is signed the page moves on to consent.
    const { release } = wallet.holdSignature(2);
    await waitForText(login.status, text('error.rejected'));
    await tryAgain.click();
    // "Try again" hides itself; keyboard focus moves to the chosen wallet, not to the top of the page.
    assert.equal(await login.page.evaluate(() => document.activeElement?.textContent), WALLET);
    release();
    assert.equal((await login.allow()).sub, account.address);
    assert.equal(wallet.signatureRequests, 2);
  });

  it('says the wallet is locked and waiting, and signs in on "Try again" once unlocked', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account }, (l) => l.wallets[0]!.lockNextConnection());
    await waitForText(login.status, text('error.locked', { wallet: WALLET }));
    assert.equal(wallet.signatureRequests, 0);
    await tryAgain.click();
    assert.equal((await login.allow()).sub, account.address);
    assert.equal(wallet.calls.filter((c) => c.method === 'eth_requestAccounts').length, 2);
  });

  it('asks the wallet to switch to an accepted network, then signs in', async () => {
    const account = Wallet.createRandom();
    const { login, wallet } = await startWith({ account, chainId: 999999 });
    await waitForText(login.status, text('error.wrongNetwork', { chain: text('login.unknownChain', { id: '999999' }) }));
    assert.equal(wallet.signatureRequests, 0, 'no challenge is signed on a network the service refuses');

    await login.page.getByRole('button', { name: text('login.switchNetwork', { chain: 'Ethereum' }) }).click();
    const claims = await login.allow();
    assert.equal(claims.sub, account.address);
    const switches = wallet.calls.filter((c) => c.method === 'wallet_switchEthereumChain');
    assert.deepEqual(switches, [{ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x1' }] }]);
    assert.deepEqual(wallet.events, [['chainChanged', '0x1']]);
  });

  it('continues by itself when the user switches to an accepted network in the wallet instead', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account, chainId: 999999 });
    await waitForText(login.status, text('error.wrongNetwork', { chain: text('login.unknownChain', { id: '999999' }) }));
    assert.ok(await tryAgain.isVisible(), '"Try again" is offered next to the switch button');
    await wallet.switchChain(999998); // another network this service refuses: the page names it
    await waitForText(login.status, text('error.wrongNetwork', { chain: text('login.unknownChain', { id: '999998' }) }));
    await wallet.switchChain(8453);
    const claims = await login.allow();
    assert.equal(claims.sub, account.address);
    assert.equal(wallet.calls.filter((c) => c.method === 'wallet_switchEthereumChain').length, 0, 'the page did not ask to switch');
    const signed = wallet.calls.find((c) => c.method === 'personal_sign')!;
    assert.match(Buffer.from(String(signed.params[0]).slice(2), 'hex').toString(), /\nChain ID: 8453\n/);
  });

  it('explains a network the wallet does not know yet (4902), and continues once it is added and chosen in the wallet', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account, chainId: 999999 }, (l) => l.wallets[0]!.refuseNextSwitch(4902));
    await login.page.getByRole('button', { name: text('login.switchNetwork', { chain: 'Ethereum' }) }).click();
    await waitForText(login.status, text('error.unknownNetwork', { wallet: WALLET, chain: 'Ethereum' }));
    assert.equal(wallet.chainId, 999999);
    // Both ways forward stay on offer (checked before the page leaves, when the check can still fail).
    assert.ok(await tryAgain.isVisible(), '"Try again" is offered');
    assert.ok(await login.page.getByRole('button', { name: text('login.switchNetwork', { chain: 'Ethereum' }) }).isVisible(), 'the switch button is back');
    await wallet.switchChain(1); // added and switched in the wallet: the page continues on its own
    assert.equal((await login.allow()).sub, account.address);
  });

  it('does not mistake the next wallet announcing its account for an account change', async () => {
    const first = Wallet.createRandom();
    const second = Wallet.createRandom();
    const login = await h.open({
      wallets: [
        { account: first, info: walletInfo('Alpha Wallet') },
        { account: second, info: walletInfo('Beta Wallet'), emitsAccountsOnConnect: true },
      ],
    });
    login.wallets[0]!.rejectNextSignature();
    await login.goto();
    await login.page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await waitForText(login.status, text('error.rejected'));
    // Beta announces its own account as it connects (as MetaMask does): that is not Alpha's account changing.
    await login.page.getByRole('button', { name: 'Beta Wallet' }).click();
    assert.equal((await login.allow()).sub, second.address);
    assert.deepEqual(
      login.wallets[1]!.events,
      [['accountsChanged', [second.address.toLowerCase()]]],
      'the situation under test happened: Beta did announce its account',
    );
  });

  it('offers no "Try again" for a sign-in that cannot continue, and says to start again at the application', async () => {
    const { login } = await startWith({ account: Wallet.createRandom() }, (l) => l.wallets[0]!.rejectNextSignature());
    await waitForText(login.status, text('error.rejected'));
    // Every challenge this interaction may have is used up (as by a script hammering it).
    const uid = new URL(login.page.url()).pathname.split('/').pop();
    for (let i = 0; i < 25; i++) {
      const res = await login.page.request.post(`${h.server.issuer}/interaction/${uid}/challenge`, {
        data: { address: Wallet.createRandom().address, chainId: 1 },
      });
      if (res.status() === 429) break;
    }
    await login.page.getByRole('button', { name: text('login.retry') }).click();
    await login.status.filter({ hasText: text('error.final', { description: '' }).split('(')[0]!.trim() }).waitFor();
    assert.match((await login.status.textContent())!, /too many challenges/);
    assert.ok(await login.page.getByRole('button', { name: text('login.retry') }).isHidden());
    assert.ok(await login.page.getByRole('link', { name: text('login.cancel') }).isVisible(), 'the way back to the application stays');
  });

  it('reads a proxy\'s error page (502) as the service being unreachable, and signs in on "Try again"', async () => {
    const account = Wallet.createRandom();
    const blocked = `${h.server.issuer}/interaction/*/challenge`;
    const { login, tryAgain } = await startWith({ account }, (l) =>
      l.page.route(blocked, (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body>502 Bad Gateway</body></html>' })),
    );
    await waitForText(login.status, text('error.unreachable'));
    await login.page.unroute(blocked);
    await tryAgain.click();
    assert.equal((await login.allow()).sub, account.address);
  });

  it('offers "Try again" after 30 s when the wallet never answers (its window closed without a reply)', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account }, async (l) => {
      // Paused: only runFor moves the page's time, however long the machine takes to get to the signature request.
      await l.page.clock.install();
      await l.page.clock.pauseAt(Date.now() + 1_000);
      l.wallets[0]!.holdSignature(1); // never released: the wallet's window closed without a reply
    });
    await login.page.locator('#details').waitFor();
    await waitForText(login.status, text('status.sign', { wallet: WALLET }));
    await login.page.clock.runFor(29_000);
    assert.ok(await tryAgain.isHidden(), 'not before 30 s');
    await login.page.clock.runFor(1_500);
    await tryAgain.waitFor();
    await tryAgain.click();
    assert.equal((await login.allow()).sub, account.address);
    assert.equal(wallet.signatureRequests, 2);
  });

  /** A wallet whose first signature comes back after the challenge expired on the server's clock. */
  async function expireFirstChallenge() {
    const account = Wallet.createRandom();
    const shownDuringSecondRequest: (string | null)[] = [];
    const { login, wallet } = await startWith({ account }, (l) =>
      l.wallets[0]!.onSignatureRequest(async (_message, request) => {
        if (request === 1) h.clock.advance(CHALLENGE_TTL + 1);
        else shownDuringSecondRequest.push(await l.status.textContent());
      }),
    );
    return { login, wallet, account, shownDuringSecondRequest };
  }

  it('replaces an expired challenge by itself: a second signature completes the login', async () => {
    const { login, wallet, account } = await expireFirstChallenge();
    assert.equal((await login.allow()).sub, account.address);
    assert.equal(wallet.signatureRequests, 2);
    const messages = wallet.calls.filter((c) => c.method === 'personal_sign').map((c) => Buffer.from(String(c.params[0]).slice(2), 'hex').toString());
    assert.notEqual(messages[0], messages[1], 'the second signature is for a new challenge');
  });

  it('tells the user the message expired while it asks for the second signature', async () => {
    const { login, shownDuringSecondRequest } = await expireFirstChallenge();
    await login.allow();
    assert.deepEqual(shownDuringSecondRequest, [text('error.expired')]);
  });

  it('offers "Try again" when the fresh challenge expires too, without claiming a new one is ready', async () => {
    const account = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account }, (l) =>
      l.wallets[0]!.onSignatureRequest((_message, request) => {
        if (request <= 2) h.clock.advance(CHALLENGE_TTL + 1);
      }),
    );
    await waitForText(login.status, text('error.expiredRetry'));
    assert.equal(wallet.signatureRequests, 2, 'one automatic retry, not more');
    await tryAgain.click();
    assert.equal((await login.allow()).sub, account.address);
    assert.equal(wallet.signatureRequests, 3);
  });

  it('stops when the account changes mid-flow and signs in with the new account on "Try again"', async () => {
    const first = Wallet.createRandom();
    const next = Wallet.createRandom();
    const { login, wallet, tryAgain } = await startWith({ account: first }, (l) =>
      l.wallets[0]!.onSignatureRequest(async (_message, request) => {
        // The user switches accounts in the wallet while it shows the first challenge.
        if (request === 1) await l.wallets[0]!.switchAccount(next);
      }),
    );
    await waitForText(login.status, text('error.accountChanged', { address: next.address.toLowerCase() }));
    assert.equal(await login.page.locator('#details').isHidden(), true, 'the old challenge is no longer shown');
    await tryAgain.click();
    assert.equal((await login.allow()).sub, next.address);
    assert.equal(wallet.signatureRequests, 2);
  });

  it('says the service cannot be reached and signs in on "Try again" once it can', async () => {
    const account = Wallet.createRandom();
    const blocked = `${h.server.issuer}/interaction/*/challenge`;
    const { login, tryAgain } = await startWith({ account }, (l) => l.page.route(blocked, (route) => route.abort('internetdisconnected')));
    await waitForText(login.status, text('error.unreachable'));
    await login.page.unroute(blocked);
    await tryAgain.click();
    assert.equal((await login.allow()).sub, account.address);
  });
  describe('while the database is briefly away (503 database_unavailable)', () => {
    const unavailable = {
      status: 503,
      headers: { 'retry-after': '1' },
      contentType: 'application/json',
      body: JSON.stringify({ error: 'database_unavailable', error_description: 'try again' }),
    };

    it('sends the same signed message again by itself, without a second signature', async () => {
      const account = Wallet.createRandom();
      const verifyUrl = `${h.server.issuer}/interaction/*/verify`;
      const sent: string[] = [];
      const { login, wallet } = await startWith({ account }, (l) =>
        l.page.route(verifyUrl, (route) => {
          sent.push(route.request().postData() ?? '');
          return sent.length === 1 ? route.fulfill(unavailable) : route.continue();
        }),
      );
      await waitForText(login.status, text('status.unavailable'));
      assert.equal((await login.allow()).sub, account.address);
      assert.equal(wallet.signatureRequests, 1);
      assert.equal(sent.length, 2);
      assert.equal(sent[1], sent[0], 'the identical message and signature');
    });

    it('offers "Try again" after its own tries, which sends the same signed message', async () => {
      const account = Wallet.createRandom();
      const verifyUrl = `${h.server.issuer}/interaction/*/verify`;
      const sent: string[] = [];
      const { login, wallet, tryAgain } = await startWith({ account }, (l) =>
        l.page.route(verifyUrl, (route) => {
          sent.push(route.request().postData() ?? '');
          return route.fulfill(unavailable);
        }),
      );
      await tryAgain.waitFor({ state: 'visible', timeout: 60_000 });
      const tries = sent.length;
      assert.ok(tries > 1, `the page tried more than once (${tries})`);
      await login.page.unroute(verifyUrl);
      await tryAgain.click();
      assert.equal((await login.allow()).sub, account.address);
      assert.equal(wallet.signatureRequests, 1, 'no second signature');
    });
  });
});
