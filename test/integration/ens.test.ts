// ENS names for the `name`, `nickname` and `picture` claims, over a real local chain (Hardhat's node with the ENS
// registry, public resolver and reverse registrar): a relying party (openid-client) sees a verified primary name and
// its avatar once the background resolution has stored it; a name whose forward record points elsewhere, or an RPC
// that never answers, leaves the claims without a name and the login unaffected. Then the resolver itself, on each
// database: the negative cache, the refresh after the TTL, a failure that keeps the last answer, and the lease.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { createEnsNames } from '../../src/ens/names.ts';
import type { NameStore } from '../../src/ens/ports.ts';
import { createEnsReader } from '../../src/ens/reader.ts';
import { createNameStore } from '../../src/db/ens-names.ts';
import { createDb } from '../../src/db/knex.ts';
import { createSql } from '../../src/db/sql.ts';
import { createLogger } from '../../src/logger.ts';
import { displayName } from '../../src/oidc/claims.ts';
import { deployEns, LOCAL_CHAIN_ID, startChain, type Ens, type LocalChain } from '../helpers/chain.ts';
import { describeEachDatabase, type Backend, type TestDatabase } from '../helpers/db.ts';
import { eventually } from '../helpers/eventually.ts';
import { createAgent, loginWithWallet } from '../helpers/login.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

const AVATAR = 'https://example.com/alice.png';
const TTL_SECONDS = 3600;
const RETRY_SECONDS = 300;
const LEASE_MS = 70_000;

/** A random wallet as the ENS helper takes it (a plain Wallet, not the HD one createRandom gives). */
const randomWallet = () => new Wallet(Wallet.createRandom().privateKey);

let chain: LocalChain;
let ens: Ens;
/** alice.eth: primary name of alice, forward record alice, an https avatar. */
const alice = randomWallet();
/** bob.eth: bob's primary name, but its forward record names another address. */
const bob = randomWallet();

before(async () => {
  chain = await startChain();
  ens = await deployEns(chain);
  await ens.setPrimaryName(alice, await ens.register('alice', alice, { avatar: AVATAR }));
  await ens.setPrimaryName(bob, await ens.register('bob', bob, { address: Wallet.createRandom().address }));
});
after(() => chain?.stop());

/** A TCP server that accepts connections and never answers: an RPC that hangs. */
async function startSilentServer() {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    get accepted() {
      return accepted;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const ensEnv = (rpcUrl: string, extra: Record<string, string> = {}) => ({
  RPC_URLS: `${LOCAL_CHAIN_ID}=${rpcUrl}`,
  ENS_CHAIN: String(LOCAL_CHAIN_ID),
  ENS_REGISTRY: ens.registry,
  ...extra,
});

/** Signs `wallet` in through a real RP and returns its callback URL and checks, before the code is exchanged. */
async function signInThroughRp(server: TestServer, wallet: Wallet) {
  const { config: rp, authorize } = await createOpenidClient(server);
  const { url, checks } = await authorize();
  const callback = await loginWithWallet(createAgent(server.issuer), url, wallet);
  return { exchange: () => oidc.authorizationCodeGrant(rp, callback, checks), rp };
}

/** Waits until the table holds an answer (a name or "no name") for `address`. */
const answered = (store: NameStore, address: string) =>
  eventually(`an ENS answer for ${address}`, async () => ((await store.find(address))?.resolvedAt ? true : undefined));

describeEachDatabase('ENS names in the claims', (backend) => {
  let db: TestDatabase;
  let server: TestServer;
  before(async () => {
    db = await backend.create();
    server = await startTestServer(db, { env: ensEnv(chain.url) });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  it('gives a real RP the verified primary name and its https avatar, resolved in the background right after the sign-in', async () => {
    const login = await signInThroughRp(server, alice);
    // Nothing has read the claims yet: only the login's own request for a resolution can have stored this.
    await answered(server.ctx.stores.names, alice.address);
    const tokens = await login.exchange();
    const claims = tokens.claims()!;
    assert.equal(claims.name, 'alice.eth');
    assert.equal(claims.nickname, 'alice.eth');
    assert.equal(claims.picture, AVATAR);
    assert.equal(claims.preferred_username, alice.address);
    const userinfo = await oidc.fetchUserInfo(login.rp, tokens.access_token, alice.address);
    assert.deepEqual([userinfo.name, userinfo.nickname, userinfo.picture], ['alice.eth', 'alice.eth', AVATAR]);
  });

  it('shows no name for a primary name whose forward record points elsewhere', async () => {
    const login = await signInThroughRp(server, bob);
    await answered(server.ctx.stores.names, bob.address);
    assert.equal((await server.ctx.stores.names.find(bob.address))!.name, undefined, 'stored as the answer "no name"');
    const claims = (await login.exchange()).claims()!;
    assert.equal(claims.name, displayName(bob.address));
    assert.equal(claims.nickname, undefined);
    assert.equal(claims.picture, undefined);
  });
});

describeEachDatabase('ENS names over an RPC that never answers', (backend) => {
  it('completes the login without a name while the resolution is still waiting on the RPC', async () => {
    const silent = await startSilentServer();
    const db = await backend.create();
    // The longest deadline there is: the login can only complete here if it never waits for the resolution.
    const server = await startTestServer(db, { env: ensEnv(silent.url, { RPC_TIMEOUT_MS: '60000' }) });
    try {
      const login = await signInThroughRp(server, alice);
      await eventually('the resolution to reach the RPC', async () => (silent.accepted > 0 ? true : undefined));
      const claims = (await login.exchange()).claims()!;
      assert.equal(claims.name, displayName(alice.address));
      assert.equal(claims.nickname, undefined);
      assert.equal(claims.picture, undefined);
      assert.equal((await server.ctx.stores.names.find(alice.address))?.resolvedAt, undefined, 'the resolution has not ended');
    } finally {
      // Closing aborts the resolution that is still waiting.
      await server.close();
      await silent.close();
      await db.drop();
    }
  });
});

/** The resolver on its own over a database's store, with a test clock and a count of its RPC calls. */
function describeResolver(backend: Backend) {
  let db: TestDatabase;
  let store: NameStore;
  let closeDb: () => Promise<void>;
  let now = new Date('2026-12-03T12:00:00Z');
  const clock = () => now;
  const advance = (ms: number) => void (now = new Date(now.getTime() + ms));
  const logger = createLogger('silent');
  const open: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    db = await backend.create();
    const knex = createDb(db.database);
    store = createNameStore(createSql(knex));
    closeDb = () => knex.destroy();
  });
  after(async () => {
    for (const names of open) await names.close();
    await closeDb?.();
    await db?.drop();
  });

  function resolver(rpcUrl = chain.url, timeoutMs = 60_000) {
    let calls = 0;
    const reader = createEnsReader({ chainId: LOCAL_CHAIN_ID, rpcUrl: new URL(rpcUrl), registry: ens.registry, timeoutMs, onRpcCall: () => calls++ });
    const names = createEnsNames({
      store,
      reader,
      clock,
      logger,
      chainId: LOCAL_CHAIN_ID,
      ttlSeconds: TTL_SECONDS,
      retrySeconds: RETRY_SECONDS,
      leaseMs: LEASE_MS,
    });
    open.push(names);
    return { names, calls: () => calls };
  }

  it('keeps "no name" for the TTL: a second lookup, in this process or another, asks the chain nothing', async () => {
    const carol = randomWallet();
    const first = resolver();
    assert.equal(await first.names.lookup(carol.address), undefined);
    await first.names.settled();
    const stored = await store.find(carol.address);
    assert.ok(stored?.resolvedAt, 'an answer is stored');
    assert.equal(stored.name, undefined);
    const calls = first.calls();
    assert.ok(calls > 0);
    assert.equal(await first.names.lookup(carol.address), undefined);
    await first.names.settled();
    assert.equal(first.calls(), calls, 'the same process asks nothing');
    const second = resolver();
    assert.equal(await second.names.lookup(carol.address), undefined);
    await second.names.settled();
    assert.equal(second.calls(), 0, 'another instance reads the stored answer');
  });

  it("gives a contract wallet bound to another chain no name, without asking: its address on ENS_CHAIN may be someone else's", async () => {
    const { names, calls } = resolver();
    assert.equal(await names.lookup(alice.address, 137), undefined);
    await names.settled();
    assert.equal(calls(), 0);
    assert.equal(await store.find(alice.address), undefined);
    await names.lookup(alice.address, LOCAL_CHAIN_ID);
    await names.settled();
    assert.equal((await names.lookup(alice.address, LOCAL_CHAIN_ID))?.name, 'alice.eth');
  });

  it('serves the last answer past the TTL and picks up a changed name in the background', async () => {
    const dave = randomWallet();
    await ens.setPrimaryName(dave, await ens.register(`dave${backend.kind}`, dave));
    const { names, calls } = resolver();
    await names.lookup(dave.address);
    await names.settled();
    assert.equal((await names.lookup(dave.address))?.name, `dave${backend.kind}.eth`);
    await ens.setPrimaryName(dave, await ens.register(`dave${backend.kind}2`, dave));
    const before = calls();
    advance(TTL_SECONDS * 1000 - 1000);
    assert.equal((await names.lookup(dave.address))?.name, `dave${backend.kind}.eth`, 'within the TTL: the stored name');
    await names.settled();
    assert.equal(calls(), before, 'within the TTL: no RPC call');
    advance(2000);
    assert.equal((await names.lookup(dave.address))?.name, `dave${backend.kind}.eth`, 'past the TTL: the last answer, meanwhile');
    await names.settled();
    assert.equal((await names.lookup(dave.address))?.name, `dave${backend.kind}2.eth`);
  });

  it('keeps the last answer when the chain cannot be asked, and tries again after the retry interval', async () => {
    const { port } = new URL(chain.url);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(port) });
    try {
      const { names } = resolver(proxy.via(chain.url), 2000);
      await names.lookup(alice.address);
      await names.settled();
      assert.equal((await names.lookup(alice.address))?.name, 'alice.eth');
      await proxy.stop();
      advance(TTL_SECONDS * 1000 + 1000);
      assert.equal((await names.lookup(alice.address))?.name, 'alice.eth');
      await names.settled();
      const failed = await store.find(alice.address);
      assert.equal(failed?.failures, 1);
      assert.equal(failed?.name, 'alice.eth', 'the last answer stays');
      const accepted = proxy.accepted;
      advance(RETRY_SECONDS * 1000 - 1000);
      assert.equal((await names.lookup(alice.address))?.name, 'alice.eth');
      await names.settled();
      assert.equal((await store.find(alice.address))?.failures, 1, 'not tried again before the retry interval');
      await proxy.start();
      advance(2000);
      await names.lookup(alice.address);
      await names.settled();
      assert.ok(proxy.accepted > accepted);
      const healed = await store.find(alice.address);
      assert.deepEqual([healed?.name, healed?.avatar, healed?.failures], ['alice.eth', AVATAR, 0]);
    } finally {
      await proxy.close();
    }
  });

  it('lets one of two resolvers on one database resolve an address at a time, and another take over once the lease ends', async () => {
    const erin = randomWallet();
    await ens.setPrimaryName(erin, await ens.register(`erin${backend.kind}`, erin));
    const silent = await startSilentServer();
    try {
      const stuck = resolver(silent.url);
      const other = resolver();
      await stuck.names.lookup(erin.address);
      await eventually('the first resolver to hold the lease and ask its RPC', async () => (silent.accepted > 0 ? true : undefined));
      assert.equal(await other.names.lookup(erin.address), undefined);
      await other.names.settled();
      assert.equal(other.calls(), 0, 'the leased address is not resolved twice');
      advance(LEASE_MS + 1000);
      await other.names.lookup(erin.address);
      await other.names.settled();
      assert.ok(other.calls() > 0);
      assert.equal((await other.names.lookup(erin.address))?.name, `erin${backend.kind}.eth`);
      await stuck.names.close();
    } finally {
      await silent.close();
    }
  });
}

describeEachDatabase('the ENS resolver', (backend) => describeResolver(backend));
