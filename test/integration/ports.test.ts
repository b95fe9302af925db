// The context's ports, each swapped through createContext's overrides on the in-memory stores: the
// SignatureVerifier decides, the NameResolver names, the Observer hears every outcome, the RateLimiter
// refuses a burst. Each test fails if its port is not wired where the context says it is.
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import * as oidc from 'openid-client';
import { Signature, Wallet } from 'ethers';
import { AppError } from '../../src/errors.ts';
import type { MemoryStores } from '../../src/memory/stores.ts';
import type { LoginEvent } from '../../src/observer.ts';
import type { SignatureCheck } from '../../src/siwe/ports.ts';
import { createAgent, followToClient, postJson, requestChallenge, startLogin, verify } from '../helpers/login.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

async function rpFor(server: TestServer) {
  const { config: rp, authorize } = await createOpenidClient(server, { skip_consent: true });
  /** A new user at the login step of a fresh authorization request. */
  const begin = async () => {
    const { url, checks } = await authorize();
    const agent = createAgent(server.issuer);
    return { agent, uid: await startLogin(agent, url), checks };
  };
  return { rp, begin };
}

describe('the SignatureVerifier port', () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof rpFor>>;
  const asked: SignatureCheck[] = [];
  /** Stands in for a contract-wallet verifier: accepts one signature shape an EOA could never make, refuses when "the chain is down". */
  let chainDown = false;
  const CONTRACT_SIGNATURE = `0x${'c0'.repeat(200)}`;
  before(async () => {
    server = await startTestServer('memory', {
      overrides: {
        signatureVerifier: {
          // Nothing is decided locally: every check goes to the "chain".
          checkLocally: () => undefined,
          async checkOnChain(check) {
            asked.push(check);
            if (chainDown) throw new AppError('verifier_unavailable', 'the chain did not answer');
            if (check.signature === CONTRACT_SIGNATURE) return { walletType: 'contract' };
            throw new AppError('bad_signature', 'refused by the test verifier');
          },
        },
      },
    });
    rp = await rpFor(server);
  });
  after(() => server?.close());

  it('is asked with the issued message, address and chain, and its answer decides the login', async () => {
    const address = Wallet.createRandom().address;
    const { agent, uid, checks } = await rp.begin();
    const { message } = await requestChallenge(agent, uid, address, 137);
    const res = await verify(agent, uid, message, CONTRACT_SIGNATURE);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(asked.at(-1), { message, signature: CONTRACT_SIGNATURE, address, chainId: 137 });
    const tokens = await oidc.authorizationCodeGrant(rp.rp, await followToClient(agent, res.body.redirectTo!), checks);
    assert.equal(tokens.claims()!.sub, `eip155:137:${address}`);
    assert.equal(tokens.claims()!.wallet_type, 'contract');
  });

  it('answers 503 verifier_unavailable when the verifier cannot ask, and records the refusal', async () => {
    const wallet = Wallet.createRandom();
    const { agent, uid } = await rp.begin();
    const { message } = await requestChallenge(agent, uid, wallet.address);
    chainDown = true;
    try {
      const res = await verify(agent, uid, message, await wallet.signMessage(message));
      assert.equal(res.status, 503);
      assert.equal(res.body.error, 'verifier_unavailable');
    } finally {
      chainDown = false;
    }
    const events = (server.ctx.stores as MemoryStores).events.filter((e) => e.interactionUid === uid);
    assert.deepEqual(
      events.map((e) => [e.outcome, e.reason]),
      [['refused', 'verifier_unavailable']],
    );
  });
});

describe('EIP-2098 compact signatures', () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof rpFor>>;
  before(async () => {
    server = await startTestServer('memory');
    rp = await rpFor(server);
  });
  after(() => server?.close());

  it('signs in with the 64-byte form of an EOA signature, as the login contract says', async () => {
    const wallet = Wallet.createRandom();
    const { agent, uid } = await rp.begin();
    const { message } = await requestChallenge(agent, uid, wallet.address);
    const compact = Signature.from(await wallet.signMessage(message)).compactSerialized;
    assert.equal((compact.length - 2) / 2, 64);
    const res = await verify(agent, uid, message, compact);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('refuses 63 bytes as invalid_request before any nonce is used', async () => {
    const wallet = Wallet.createRandom();
    const { agent, uid } = await rp.begin();
    const { message } = await requestChallenge(agent, uid, wallet.address);
    const compact = Signature.from(await wallet.signMessage(message)).compactSerialized;
    const res = await verify(agent, uid, message, compact.slice(0, -2));
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_request');
    assert.equal((await verify(agent, uid, message, compact)).status, 200, 'the challenge is still unused');
  });
});

describe('the NameResolver port', () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof rpFor>>;
  const names = new Map<string, string>();
  before(async () => {
    server = await startTestServer('memory', {
      overrides: { nameResolver: { lookup: async (address) => (names.has(address) ? { name: names.get(address)! } : undefined) } },
    });
    rp = await rpFor(server);
  });
  after(() => server?.close());

  it('puts a resolved name in `name`, keeps the address in preferred_username, and falls back to the short address', async () => {
    const named = Wallet.createRandom();
    const unnamed = Wallet.createRandom();
    names.set(named.address, 'alice.eth');
    for (const [wallet, name] of [
      [named, 'alice.eth'],
      [unnamed, `${unnamed.address.slice(0, 6)}…${unnamed.address.slice(-4)}`],
    ] as const) {
      const { agent, uid, checks } = await rp.begin();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const res = await verify(agent, uid, message, await wallet.signMessage(message));
      const tokens = await oidc.authorizationCodeGrant(rp.rp, await followToClient(agent, res.body.redirectTo!), checks);
      assert.equal(tokens.claims()!.name, name);
      assert.equal(tokens.claims()!.preferred_username, wallet.address);
      const userinfo = await oidc.fetchUserInfo(rp.rp, tokens.access_token, wallet.address);
      assert.equal(userinfo.name, name);
    }
  });
});

describe('the Observer port', () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof rpFor>>;
  const heard: LoginEvent[] = [];
  before(async () => {
    server = await startTestServer('memory', {
      overrides: { observer: { login: (e) => heard.push(e), providerProblem: () => {} } },
    });
    rp = await rpFor(server);
  });
  after(() => server?.close());

  it('hears a success with its account, client and chain, and a refusal with its reason code', async () => {
    const wallet = Wallet.createRandom();
    const { agent, uid } = await rp.begin();
    const { message } = await requestChallenge(agent, uid, wallet.address, 10);
    const refused = await verify(agent, uid, message, await Wallet.createRandom().signMessage(message));
    assert.equal(refused.body.error, 'bad_signature');
    const { message: second } = await requestChallenge(agent, uid, wallet.address, 10);
    assert.equal((await verify(agent, uid, second, await wallet.signMessage(second))).status, 200);
    const mine = heard.filter((e) => e.interactionUid === uid);
    assert.deepEqual(
      mine.map((e) => [e.outcome, e.reason, e.address, e.chainId]),
      [
        ['refused', 'bad_signature', undefined, undefined],
        ['success', undefined, wallet.address, 10],
      ],
    );
    assert.equal(mine[1]!.sub, wallet.address);
    assert.equal(mine[1]!.ip, '127.0.0.1');
    assert.ok(mine[1]!.clientId);
  });
});

describe('the RateLimiter port on the login API', () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof rpFor>>;
  before(async () => {
    server = await startTestServer('memory', { env: { LOGIN_RATE_LIMIT: '5' } });
    rp = await rpFor(server);
  });
  after(() => server?.close());

  it('lets exactly the limit through a concurrent burst from one address, refuses the rest with 429 and Retry-After, and audits only the first refusal', async () => {
    const wallet = Wallet.createRandom();
    const { agent, uid } = await rp.begin();
    const stores = server.ctx.stores as MemoryStores;
    const auditedBefore = stores.events.length;
    const burst = await Promise.all(
      Array.from({ length: 12 }, () =>
        agent.fetch(new URL(`/interaction/${uid}/challenge`, server.issuer), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ address: wallet.address, chainId: 1 }),
        }),
      ),
    );
    const statuses = burst.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    const limited = burst.find((r) => r.status === 429)!;
    assert.equal((await limited.json()).error, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    assert.deepEqual(
      stores.events.slice(auditedBefore).map((e) => [e.outcome, e.reason, e.interactionUid]),
      [['refused', 'rate_limited', uid]],
      'seven refusals, one audit row',
    );

    // rate-limiter-flexible reads Date.now(): move it past the window.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    try {
      const next = await postJson(agent, `/interaction/${uid}/challenge`, { address: wallet.address, chainId: 1 });
      assert.equal(next.status, 200, 'a new window admits requests again');
    } finally {
      mock.timers.reset();
    }
  });
});
