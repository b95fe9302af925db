// Signing in from the login page with smart-contract wallets: a Safe on a local Hardhat chain, asked through the
// server's RPC (RPC_URLS, behind a proxy the test can hold or cut). The injected wallet answers personal_sign as a
// Safe does: its owners' signatures, checked by the Safe (EIP-1271), or wrapped for a Safe not deployed yet (EIP-6492).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { screenshot, walletInfo, type WalletAccount } from '../helpers/browser.ts';
import { createPgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { deploySafes, startChain, type LocalChain, type Safes } from '../helpers/chain.ts';
import { skipWithoutBrowser, startHarness, text, waitForText, type Harness, type LoginPage } from '../helpers/e2e.ts';
import { startRpcProxy, type RpcProxy } from '../helpers/rpc-proxy.ts';

const WALLET = 'Safe Wallet';
/** The local chain has no name of ours: the page calls it what the server does. */
const CHAIN = text('login.unknownChain', { id: '31337' });

/** A key that owns a Safe. */
const newOwner = () => new Wallet(Wallet.createRandom().privateKey);

/** A smart wallet's account: its address is the contract, its answer to personal_sign is `sign(message)`. */
const smartAccount = (address: string, sign: (message: string) => Promise<string>): WalletAccount => ({
  address,
  signMessage: (bytes) => sign(Buffer.from(bytes).toString('utf8')),
});

describe('signing in with a contract wallet (Safe) through the login page', { skip: skipWithoutBrowser }, () => {
  let chain: LocalChain;
  let safes: Safes;
  let rpc: RpcProxy;
  let database: TestDatabase;
  let h: Harness;
  before(async () => {
    chain = await startChain();
    safes = await deploySafes(chain);
    rpc = await startRpcProxy(chain.url);
    // A database, not the in-memory stores: a verify the chain did not answer is rolled back whole, nonce included.
    database = await createPgliteDatabase();
    // Ethereum is accepted too but has no RPC: contract wallets cannot sign in there. The timeout is generous: a
    // held or cut RPC is the test's doing, never the machine's speed.
    h = await startHarness({ database, env: { ALLOWED_CHAINS: '31337,1', RPC_URLS: `31337=${rpc.url}`, RPC_TIMEOUT_MS: '60000' } });
  });
  afterEach(() => {
    rpc.reset();
    return h.closePages();
  });
  after(async () => {
    await h?.close();
    await database?.drop();
    await rpc?.close();
    await chain?.stop();
  });

  /**
   * A login page with one announced wallet that answers as `account`, on `chainId`; the wallet is clicked. With
   * `pausedClock` the page's timers run only when the test moves its clock (page.clock.runFor).
   */
  async function signInWith(account: WalletAccount, opts: { chainId?: number; pausedClock?: boolean; prepare?: (login: LoginPage) => unknown } = {}) {
    const login = await h.open({ wallets: [{ account, chainId: opts.chainId ?? 31337, info: walletInfo(WALLET) }] });
    if (opts.pausedClock) {
      await login.page.clock.install();
      await login.page.clock.pauseAt(Date.now() + 1_000);
    }
    await opts.prepare?.(login);
    await login.goto();
    await login.page.getByRole('button', { name: WALLET }).click();
    return { login, wallet: login.wallets[0]!, tryAgain: login.page.getByRole('button', { name: text('login.retry') }) };
  }

  it('signs in a deployed Safe (EIP-1271): says at once that the chain is asked, and the RP gets a contract sub', async () => {
    const owners = [newOwner(), newOwner()];
    const safe = await safes.create(
      owners.map((o) => o.address),
      { threshold: 2 },
    );
    const signatures: string[] = [];
    const held = rpc.hold();
    // Time stands still on the page: what it says while the chain is asked can only come at once, not from slowness.
    const { login, wallet } = await signInWith(
      smartAccount(safe, async (message) => {
        signatures.push(await safes.sign(safe, message, owners));
        return signatures.at(-1)!;
      }),
      { pausedClock: true },
    );
    await held.arrived;
    await waitForText(login.status, text('status.checkingChain', { chain: CHAIN }));
    await screenshot(login.page, 'login-checking-chain-desktop');
    held.release();

    const claims = await login.allow();
    assert.equal(claims.sub, `eip155:31337:${safe}`);
    assert.equal(claims.wallet_type, 'contract');
    assert.equal(wallet.signatureRequests, 1);
    assert.equal((signatures[0]!.length - 2) / 2, 130, 'two owners signed: no single key makes such a signature');
  });

  it("names the chain once the answer is slow when the signature is 65 bytes (a one-owner Safe's)", async () => {
    const key = newOwner();
    const safe = await safes.create([key.address]);
    const signatures: string[] = [];
    const held = rpc.hold();
    const { login } = await signInWith(
      smartAccount(safe, async (message) => {
        signatures.push(await safes.sign(safe, message, [key]));
        return signatures.at(-1)!;
      }),
      { pausedClock: true },
    );
    await held.arrived;
    // 65 bytes could be the address's own key: the server knows better only once it asks the chain.
    await waitForText(login.status, text('status.checking'));
    await login.page.clock.runFor(1_000);
    await waitForText(login.status, text('status.checkingChain', { chain: CHAIN }));
    held.release();

    const claims = await login.allow();
    assert.equal(claims.sub, `eip155:31337:${safe}`);
    assert.equal(claims.wallet_type, 'contract');
    assert.equal((signatures[0]!.length - 2) / 2, 65, 'the length of a signature by one key');
  });

  it('signs in a Safe that is not deployed yet (EIP-6492), and leaves it undeployed', async () => {
    const key = newOwner();
    const counterfactual = await safes.counterfactual([key.address], 6492n);
    const { login, wallet } = await signInWith(
      smartAccount(counterfactual.address, async (message) => safes.wrap6492(counterfactual, await safes.sign(counterfactual.address, message, [key]))),
    );
    const claims = await login.allow();
    assert.equal(claims.sub, `eip155:31337:${counterfactual.address}`);
    assert.equal(claims.wallet_type, 'contract');
    assert.equal(wallet.signatureRequests, 1);
    assert.equal(await chain.provider.getCode(counterfactual.address), '0x', 'the check deployed nothing');
  });

  it('says the network did not answer when the RPC is down, and "Try again" sends the same signature once it is back', async () => {
    const owners = [newOwner(), newOwner()];
    const safe = await safes.create(
      owners.map((o) => o.address),
      { threshold: 2 },
    );
    const sent: string[] = [];
    const asked = rpc.methods.length;
    rpc.cut();
    const { login, wallet, tryAgain } = await signInWith(
      smartAccount(safe, (message) => safes.sign(safe, message, owners)),
      { prepare: (l) => l.page.on('request', (req) => req.url().endsWith('/verify') && sent.push(req.postData() ?? '')) },
    );
    await waitForText(login.status, text('error.verifierUnavailable', { chain: CHAIN }));
    assert.equal(await login.status.getAttribute('class'), 'error');
    assert.ok(rpc.methods.length > asked, 'the server did try the chain');
    await screenshot(login.page, 'login-verifier-unavailable-desktop');

    rpc.restore();
    await tryAgain.click();
    const claims = await login.allow();
    assert.equal(claims.sub, `eip155:31337:${safe}`);
    assert.equal(wallet.signatureRequests, 1, 'no second signature');
    assert.equal(sent.length, 2);
    assert.equal(sent[1], sent[0], 'the identical message and signature');
  });

  it('says contract wallets cannot be checked on a network without an RPC, and suggests another', async () => {
    const owners = [newOwner(), newOwner()];
    const safe = await safes.create(
      owners.map((o) => o.address),
      { threshold: 2 },
    );
    const asked = rpc.methods.length;
    const { login, tryAgain } = await signInWith(
      smartAccount(safe, (message) => safes.sign(safe, message, owners)),
      { chainId: 1 },
    );
    await waitForText(login.status, text('error.contractWalletUnsupported', { chain: 'Ethereum' }));
    assert.ok(await tryAgain.isVisible(), '"Try again" is offered: after switching networks, it signs in');
    assert.equal(rpc.methods.length, asked, 'no RPC was asked: there is none for Ethereum');
    // The page knows where contract wallets can sign in, never the RPC's URL (it may carry an API key).
    const chains = await login.page.locator('#login').getAttribute('data-chains');
    assert.deepEqual(JSON.parse(chains!), [
      { id: 31337, name: CHAIN, contractWallets: true },
      { id: 1, name: 'Ethereum', contractWallets: false },
    ]);
    assert.ok(!(await login.page.content()).includes(new URL(rpc.url).host), 'no RPC URL on the page');
  });

  it('takes a Safe signature pasted into "Sign without a browser wallet", and keeps the message while the RPC is down', async () => {
    const owners = [newOwner(), newOwner()];
    const safe = await safes.create(
      owners.map((o) => o.address),
      { threshold: 2 },
    );
    const login = await h.open();
    const { page } = login;
    await login.goto();
    await page.locator('#manual[open]').waitFor();
    await page.getByLabel(text('manual.address')).fill(safe);
    await page.getByLabel(text('manual.network'), { exact: true }).selectOption('31337');
    await page.getByRole('button', { name: text('manual.getMessage') }).click();
    await page.locator('#manual-sign').waitFor();
    const message = await page.getByLabel(text('manual.message')).inputValue();
    const signature = await safes.sign(safe, message, owners);
    await page.getByLabel(text('manual.signature')).fill(signature);

    rpc.cut();
    const submit = page.getByRole('button', { name: text('manual.submit') });
    await submit.click();
    const said = page.locator('#manual-status');
    await waitForText(said, text('error.verifierUnavailable', { chain: CHAIN }));
    assert.equal(await page.getByLabel(text('manual.message')).inputValue(), message, 'nothing was used up: the message stays');

    rpc.restore();
    await submit.click();
    const claims = await login.allow();
    assert.equal(claims.sub, `eip155:31337:${safe}`);
    assert.equal(claims.wallet_type, 'contract');
  });
});
