// With SUB_FORMAT=caip10 an EOA and a contract at the same address on the same chain would share one `sub` (an EIP-7702
// account whose delegated code accepts other signers). An account keeps the wallet type that created it: a login of the
// other type is refused with wallet_type_mismatch, on every store. The "chain" here is a stand-in verifier: real
// contract signatures are checked on a real chain in contract-wallets.test.ts.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { AppError } from '../../src/errors.ts';
import { createEoaVerifier } from '../../src/siwe/eoa-verifier.ts';
import type { SignatureVerifier } from '../../src/siwe/ports.ts';
import { chooseRecover } from '../../src/siwe/recover.ts';
import { createAgent, requestChallenge, startLogin, verify } from '../helpers/login.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { describeEachStore, type TestServer } from '../helpers/server.ts';

/** What the stand-in "contract" accepts: a signature no key makes. */
const CONTRACT_SIGNATURE = `0x${'c0'.repeat(100)}`;
const eoa = createEoaVerifier(chooseRecover().recover);
const verifier: SignatureVerifier = {
  checkLocally: (check) => (check.signature === CONTRACT_SIGNATURE ? undefined : eoa.checkLocally(check)),
  async checkOnChain(check) {
    if (check.signature !== CONTRACT_SIGNATURE) throw new AppError('bad_signature', 'refused');
    return { walletType: 'contract' };
  },
};

describeEachStore('one sub, two wallet types (SUB_FORMAT=caip10)', (start) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let rp: Awaited<ReturnType<typeof createOpenidClient>>;
  before(async () => {
    ({ server, stop } = await start({ env: { SUB_FORMAT: 'caip10' }, overrides: { signatureVerifier: verifier } }));
    rp = await createOpenidClient(server, { skip_consent: true });
  });
  after(() => stop?.());

  /** One login attempt of `address` on chain 1, signed by `sign`. */
  async function attempt(address: string, sign: (message: string) => Promise<string>) {
    const agent = createAgent(server.issuer);
    const uid = await startLogin(agent, (await rp.authorize()).url);
    const { message } = await requestChallenge(agent, uid, address, 1);
    return verify(agent, uid, message, await sign(message));
  }

  it('refuses a contract login to an account an EOA created, and the other way round; both accounts stay as they were', async () => {
    const wallet = Wallet.createRandom();
    const byKey = (message: string) => wallet.signMessage(message);
    const byContract = async () => CONTRACT_SIGNATURE;
    assert.equal((await attempt(wallet.address, byKey)).status, 200);
    const refused = await attempt(wallet.address, byContract);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'wallet_type_mismatch');
    const account = await server.ctx.stores.accounts.find(`eip155:1:${wallet.address}`);
    assert.equal(account?.walletType, 'eoa');
    assert.equal(account?.loginCount, 1);

    const other = Wallet.createRandom();
    assert.equal((await attempt(other.address, byContract)).status, 200);
    const refusedKey = await attempt(other.address, (message) => other.signMessage(message));
    assert.equal(refusedKey.body.error, 'wallet_type_mismatch');
    assert.equal((await server.ctx.stores.accounts.find(`eip155:1:${other.address}`))?.walletType, 'contract');
  });
});
