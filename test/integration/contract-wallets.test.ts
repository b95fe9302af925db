// Contract wallets sign in on a real local chain (Hardhat's node with the published Safe 1.4.1 contracts), through
// a real RP (openid-client): a Safe owner (EIP-1271), a Safe not deployed yet (EIP-6492), forgeries, an owner change,
// and the RPC down, hanging or serving another chain. An RPC proxy (test/helpers/rpc-proxy.ts) records every JSON-RPC call the server makes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { deploySafes, startChain, LOCAL_CHAIN_ID, type LocalChain, type Safes } from '../helpers/chain.ts';
import { startRpcProxy, type RpcProxy } from '../helpers/rpc-proxy.ts';
import { createPgliteDatabase, describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, followToClient, requestChallenge, startLogin, verify, type Agent } from '../helpers/login.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const CHAIN = LOCAL_CHAIN_ID;

let chain: LocalChain;
let safes: Safes;
before(async () => {
  chain = await startChain();
  safes = await deploySafes(chain);
});
after(async () => {
  await chain?.stop();
});

/** A server whose RPC for the local chain is `rpc`, and a real RP on it. */
async function setup(db: TestDatabase, rpc: RpcProxy, env: Record<string, string> = {}) {
  // A deadline no loaded machine reaches (the node answers), except where a test sets a short one on purpose.
  const server = await startTestServer(db, {
    env: { ALLOWED_CHAINS: `1,${CHAIN}`, RPC_URLS: `${CHAIN}=${rpc.url}`, RPC_TIMEOUT_MS: '60000', ENS_CHAIN: 'off', ...env },
  });
  const rp = await createOpenidClient(server);
  return { server, rp };
}

/** Starts a login at the RP and asks for the challenge of `address` on `chainId`. */
async function challenge(server: TestServer, rp: Awaited<ReturnType<typeof createOpenidClient>>, address: string, chainId = CHAIN) {
  const agent = createAgent(server.issuer);
  const { url, checks } = await rp.authorize();
  const uid = await startLogin(agent, url);
  const { message } = await requestChallenge(agent, uid, address, chainId);
  return { agent, uid, message, checks };
}

/** Exchanges the code the login led to, as the RP does, and returns the ID token's claims and the userinfo. */
async function finish(
  agent: Agent,
  redirectTo: string,
  rp: Awaited<ReturnType<typeof createOpenidClient>>,
  checks: Awaited<ReturnType<typeof rp.authorize>>['checks'],
) {
  const callback = await followToClient(agent, redirectTo);
  const tokens = await oidc.authorizationCodeGrant(rp.config, callback, checks);
  const claims = tokens.claims()!;
  const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
  return { claims, userinfo };
}

describeEachDatabase('contract wallets on a local chain', (backend) => {
  let db: TestDatabase;
  let rpc: RpcProxy;
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof createOpenidClient>>;
  before(async () => {
    db = await backend.create();
    rpc = await startRpcProxy(chain.url);
    ({ server, rp } = await setup(db, rpc));
  });
  after(async () => {
    await server?.close();
    await rpc?.close();
    await db?.drop();
  });

  it('signs in a Safe owner (EIP-1271): sub eip155:<chain>:<safe>, wallet_type contract, one eth_call after the chain id check', async () => {
    const owner = Wallet.createRandom();
    const safe = await safes.create([owner.address]);
    const seen = rpc.methods.length;
    const { agent, uid, message, checks } = await challenge(server, rp, safe);
    const res = await verify(agent, uid, message, await safes.sign(safe, message, [owner]));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { claims, userinfo } = await finish(agent, res.body.redirectTo!, rp, checks);
    assert.equal(claims.sub, `eip155:${CHAIN}:${safe}`);
    assert.equal(claims.wallet_type, 'contract');
    assert.equal(userinfo.wallet_type, 'contract');
    // Its username names the chain too: a broker that links users by username never joins two chains' wallets.
    assert.equal(userinfo.preferred_username, `eip155:${CHAIN}:${safe}`);
    const account = await server.ctx.stores.accounts.find(`eip155:${CHAIN}:${safe}`);
    assert.equal(account?.walletType, 'contract');
    // One eth_call, after the endpoint's chain id check (once per process: here or in an earlier test).
    assert.deepEqual(
      rpc.methods.slice(seen).filter((m) => m !== 'eth_chainId'),
      ['eth_call'],
    );
    assert.equal(rpc.methods.filter((m) => m === 'eth_chainId').length, 1);
  });

  it('signs in a Safe that is not deployed (EIP-6492) with one eth_call and no transaction: its code stays empty', async () => {
    const owner = Wallet.createRandom();
    const counterfactual = await safes.counterfactual([owner.address], 6492n);
    const seen = rpc.methods.length;
    const { agent, uid, message, checks } = await challenge(server, rp, counterfactual.address);
    const signature = safes.wrap6492(counterfactual, await safes.sign(counterfactual.address, message, [owner]));
    const res = await verify(agent, uid, message, signature);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { claims } = await finish(agent, res.body.redirectTo!, rp, checks);
    assert.equal(claims.sub, `eip155:${CHAIN}:${counterfactual.address}`);
    assert.equal(claims.wallet_type, 'contract');
    assert.deepEqual(
      rpc.methods.slice(seen).filter((m) => m !== 'eth_chainId'),
      ['eth_call'],
    );
    assert.equal(await chain.provider.getCode(counterfactual.address), '0x');
  });

  it('signs in an EOA without a single RPC call, on the chain that has one, with the chain-free sub', async () => {
    const wallet = Wallet.createRandom();
    const seen = rpc.methods.length;
    const { agent, uid, message, checks } = await challenge(server, rp, wallet.address);
    const res = await verify(agent, uid, message, await wallet.signMessage(message));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { claims } = await finish(agent, res.body.redirectTo!, rp, checks);
    assert.equal(claims.sub, wallet.address);
    assert.equal(claims.wallet_type, 'eoa');
    assert.deepEqual(rpc.methods.slice(seen), []);
  });

  it('refuses a contract signature made by a key that does not own the Safe, and one of random bytes: bad_signature', async () => {
    const owner = Wallet.createRandom();
    const safe = await safes.create([owner.address]);
    for (const forge of [
      (message: string) => safes.sign(safe, message, [Wallet.createRandom()]),
      async () => `0x${'ab'.repeat(200)}`,
      // The owner's signature for another Safe (another domain) is no signature for this one.
      async (message: string) => safes.sign(Wallet.createRandom().address, message, [owner]),
    ]) {
      const { agent, uid, message } = await challenge(server, rp, safe);
      const res = await verify(agent, uid, message, await forge(message));
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error, 'bad_signature');
    }
  });

  it('refuses a 6492 wrapper whose factory call deploys another wallet, or whose inner signature is not the owner’s', async () => {
    const owner = Wallet.createRandom();
    const counterfactual = await safes.counterfactual([owner.address], 99n);
    const other = await safes.counterfactual([Wallet.createRandom().address], 99n);
    const { agent, uid, message } = await challenge(server, rp, counterfactual.address);
    // Deploys the attacker's Safe, then asks the (undeployed) victim address: nothing there accepts it.
    const wrongFactory = safes.wrap6492(other, await safes.sign(counterfactual.address, message, [owner]));
    const res = await verify(agent, uid, message, wrongFactory);
    assert.equal(res.body.error, 'bad_signature');
    const second = await challenge(server, rp, counterfactual.address);
    const res2 = await verify(
      second.agent,
      second.uid,
      second.message,
      safes.wrap6492(counterfactual, await safes.sign(counterfactual.address, second.message, [Wallet.createRandom()])),
    );
    assert.equal(res2.body.error, 'bad_signature');
  });

  it('follows the Safe’s owners: after an owner change the old owner is refused, the new one signs in as the same account', async () => {
    const oldOwner = Wallet.createRandom();
    const newOwner = Wallet.createRandom();
    const safe = await safes.create([oldOwner.address]);
    await safes.swapOwner(safe, oldOwner.address, newOwner.address, oldOwner);
    const refused = await challenge(server, rp, safe);
    const res = await verify(refused.agent, refused.uid, refused.message, await safes.sign(safe, refused.message, [oldOwner]));
    assert.equal(res.body.error, 'bad_signature');
    const accepted = await challenge(server, rp, safe);
    const ok = await verify(accepted.agent, accepted.uid, accepted.message, await safes.sign(safe, accepted.message, [newOwner]));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const { claims } = await finish(accepted.agent, ok.body.redirectTo!, rp, accepted.checks);
    assert.equal(claims.sub, `eip155:${CHAIN}:${safe}`);
  });

  it('lets exactly one of many concurrent copies of one signed 6492 message in; the others lose the nonce', async () => {
    const owner = Wallet.createRandom();
    const counterfactual = await safes.counterfactual([owner.address], 7n);
    const { agent, uid, message } = await challenge(server, rp, counterfactual.address);
    const signature = safes.wrap6492(counterfactual, await safes.sign(counterfactual.address, message, [owner]));
    const results = await Promise.all(Array.from({ length: 8 }, () => verify(agent, uid, message, signature)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    assert.ok(results.filter((r) => r.status === 409).every((r) => r.body.error === 'nonce_used'));
  });

  it('refuses a contract signature on a chain without an RPC with contract_wallet_unsupported, and asks nothing', async () => {
    const owner = Wallet.createRandom();
    const counterfactual = await safes.counterfactual([owner.address], 1n);
    const seen = rpc.methods.length;
    const { agent, uid, message } = await challenge(server, rp, counterfactual.address, 1);
    const res = await verify(agent, uid, message, safes.wrap6492(counterfactual, await safes.sign(counterfactual.address, message, [owner])));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'contract_wallet_unsupported');
    assert.deepEqual(rpc.methods.slice(seen), []);
  });

  it('with the RPC down: an EOA still signs in; a contract wallet gets 503 verifier_unavailable, and the same signed message succeeds once it is back', async () => {
    const owner = Wallet.createRandom();
    const safe = await safes.create([owner.address]);
    const wallet = Wallet.createRandom();
    const { agent, uid, message, checks } = await challenge(server, rp, safe);
    const signature = await safes.sign(safe, message, [owner]);
    try {
      rpc.cut();
      const eoa = await challenge(server, rp, wallet.address);
      const eoaRes = await verify(eoa.agent, eoa.uid, eoa.message, await wallet.signMessage(eoa.message));
      assert.equal(eoaRes.status, 200, JSON.stringify(eoaRes.body));
      const down = await verify(agent, uid, message, signature);
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.equal(down.body.error, 'verifier_unavailable');
    } finally {
      rpc.restore();
    }
    // Nothing was used up: the nonce is still good, so the page can send the same signature again.
    const again = await verify(agent, uid, message, signature);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const { claims } = await finish(agent, again.body.redirectTo!, rp, checks);
    assert.equal(claims.sub, `eip155:${CHAIN}:${safe}`);
  });

  it('with the RPC hanging: the contract wallet gets 503 verifier_unavailable at the deadline (RPC_TIMEOUT_MS)', async () => {
    const owner = Wallet.createRandom();
    const safe = await safes.create([owner.address]);
    const hanging = await startRpcProxy(chain.url);
    hanging.hold();
    const otherDb = await backend.create();
    const other = await setup(otherDb, hanging, { RPC_TIMEOUT_MS: '300' });
    try {
      const { agent, uid, message } = await challenge(other.server, other.rp, safe);
      const res = await verify(agent, uid, message, await safes.sign(safe, message, [owner]));
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.error, 'verifier_unavailable');
      // The chain id check was the one call made: the deadline ended the check there.
      assert.deepEqual(hanging.methods, ['eth_chainId']);
    } finally {
      await other.server.close();
      await hanging.close();
      await otherDb.drop();
    }
  });

  it('never lets a hanging RPC hold the database: EOA logins finish while a contract check waits (PGlite has one connection)', async () => {
    const owner = Wallet.createRandom();
    const safe = await safes.create([owner.address]);
    const hanging = await startRpcProxy(chain.url);
    const held = hanging.hold();
    const otherDb = await backend.create();
    // A deadline no test reaches: the check waits until the proxy lets the call through.
    const other = await setup(otherDb, hanging, { RPC_TIMEOUT_MS: '60000' });
    try {
      const stuck = await challenge(other.server, other.rp, safe);
      let settled = false;
      const pending = verify(stuck.agent, stuck.uid, stuck.message, await safes.sign(safe, stuck.message, [owner])).finally(() => (settled = true));
      await held.arrived;
      for (let i = 0; i < 3; i++) {
        const wallet = Wallet.createRandom();
        const eoa = await challenge(other.server, other.rp, wallet.address);
        const res = await verify(eoa.agent, eoa.uid, eoa.message, await wallet.signMessage(eoa.message));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        await finish(eoa.agent, res.body.redirectTo!, other.rp, eoa.checks);
      }
      assert.equal(settled, false, 'the contract check was still waiting on the RPC');
      held.release();
      const res = await pending;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await finish(stuck.agent, res.body.redirectTo!, other.rp, stuck.checks);
    } finally {
      await other.server.close();
      await hanging.close();
      await otherDb.drop();
    }
  });
});

describe('an RPC that serves another chain than RPC_URLS says', () => {
  it('is never trusted: contract wallets on that chain get verifier_unavailable, whatever they sign', async () => {
    const db = await createPgliteDatabase();
    const rpc = await startRpcProxy(chain.url);
    // Chain 1 "served" by the local node (31337): a contract there says nothing about chain 1.
    const { server, rp } = await setup(db, rpc, { RPC_URLS: `1=${rpc.url}` });
    try {
      const owner = Wallet.createRandom();
      const safe = await safes.create([owner.address]);
      const { agent, uid, message } = await challenge(server, rp, safe, 1);
      const res = await verify(agent, uid, message, await safes.sign(safe, message, [owner]));
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.error, 'verifier_unavailable');
      assert.deepEqual(rpc.methods, ['eth_chainId']);
    } finally {
      await server.close();
      await rpc.close();
      await db.drop();
    }
  });
});
