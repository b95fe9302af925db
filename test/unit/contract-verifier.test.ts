// Unit tests for how the contract-wallet verifier (src/siwe/contract-verifier.ts) reads an RPC's answers: which
// signatures go to the chain at all, and which failures mean "the chain said no" (bad_signature) rather than "the chain
// could not be asked" (verifier_unavailable). The RPC here is a local HTTP server with canned answers; real contract
// signatures are checked on a real chain in test/integration/contract-wallets.test.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { AppError, type ReasonCode } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { createContractVerifier, MAX_RPC_CALLS_PER_CHECK, needsChain } from '../../src/siwe/contract-verifier.ts';
import type { SignatureCheck, SignatureVerifier } from '../../src/siwe/ports.ts';
import { chooseRecover } from '../../src/siwe/recover.ts';

const SUFFIX = '6492'.repeat(16);

describe('needsChain', () => {
  it('sends only what an EOA cannot have made straight to the chain: other lengths, and the EIP-6492 suffix', () => {
    assert.equal(needsChain(`0x${'11'.repeat(65)}`), false);
    assert.equal(needsChain(`0x${'11'.repeat(64)}`), false);
    assert.equal(needsChain(`0x${'11'.repeat(66)}`), true);
    assert.equal(needsChain(`0x${'11'.repeat(300)}`), true);
    assert.equal(needsChain(`0x${'11'.repeat(33)}${SUFFIX}`), true);
    assert.equal(needsChain(`0x${'11'.repeat(33)}${SUFFIX.toUpperCase()}`), true);
  });
});

/** What the canned RPC answers to each call after eth_chainId (which it answers 0x1). */
type Answer = { status?: number; body: string } | 'hang';

describe('createContractVerifier reading an RPC', () => {
  let server: http.Server;
  let url: URL;
  let answer: Answer;
  const calls: string[] = [];
  before(async () => {
    server = http.createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      calls.push(method);
      if (method === 'eth_chainId') return void res.end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x1' }));
      if (answer === 'hang') return;
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(answer.body.replace('$ID', String(id)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const wallet = Wallet.createRandom();
  const contract = Wallet.createRandom().address;
  const message = 'Sign in';
  const verifier = (timeoutMs = 2000) =>
    createContractVerifier({ recover: chooseRecover().recover, rpcUrls: new Map([[1, url]]), timeoutMs, logger: createLogger('silent') });
  const refusedWith = (code: ReasonCode) => (err: unknown) => err instanceof AppError && err.code === code;
  /** Both steps, as a login takes them: the local check, then the chain when it cannot tell. */
  const verify = async (v: SignatureVerifier, c: SignatureCheck) => v.checkLocally(c) ?? (await v.checkOnChain(c));
  const check = (v = verifier(), signature = `0x${'22'.repeat(200)}`) => verify(v, { message, signature, address: contract, chainId: 1 });

  it('proves an EOA by recovery with no call at all', async () => {
    calls.length = 0;
    assert.deepEqual(await verify(verifier(), { message, signature: await wallet.signMessage(message), address: wallet.address, chainId: 1 }), {
      walletType: 'eoa',
    });
    assert.deepEqual(calls, []);
  });

  it('reads a revert as the chain saying no: bad_signature', async () => {
    answer = { body: '{"jsonrpc":"2.0","id":$ID,"error":{"code":3,"message":"execution reverted","data":"0x"}}' };
    await assert.rejects(check(), refusedWith('bad_signature'));
    answer = { body: '{"jsonrpc":"2.0","id":$ID,"error":{"code":-32000,"message":"execution reverted"}}' };
    await assert.rejects(check(), refusedWith('bad_signature'));
  });

  it('reads a false result as the chain saying no: bad_signature', async () => {
    answer = { body: `{"jsonrpc":"2.0","id":$ID,"result":"0x${'00'.repeat(32)}"}` };
    await assert.rejects(check(), refusedWith('bad_signature'));
  });

  it('accepts a true result: a contract wallet', async () => {
    answer = { body: `{"jsonrpc":"2.0","id":$ID,"result":"0x${'00'.repeat(31)}01"}` };
    assert.deepEqual(await check(), { walletType: 'contract' });
  });

  for (const [what, canned] of [
    ['a rate-limit error', { body: '{"jsonrpc":"2.0","id":$ID,"error":{"code":-32005,"message":"limit exceeded"}}' }],
    ['an internal error', { body: '{"jsonrpc":"2.0","id":$ID,"error":{"code":-32603,"message":"internal error"}}' }],
    ['HTTP 502', { status: 502, body: 'bad gateway' }],
    ['HTML', { body: '<html>maintenance</html>' }],
    ['JSON that is not JSON-RPC', { body: '{"hello":"world"}' }],
  ] as const) {
    it(`reads ${what} as the chain not answering: verifier_unavailable, never bad_signature`, async () => {
      answer = canned;
      await assert.rejects(check(), refusedWith('verifier_unavailable'));
    });
  }

  it('refuses an ERC-8010 signature, even a malformed one, as bad_signature without asking: never a 503', async () => {
    answer = { body: `{"jsonrpc":"2.0","id":$ID,"result":"0x${'00'.repeat(31)}01"}` };
    const v = verifier();
    await check(v); // the chain id check, out of the way
    const before = calls.length;
    for (const signature of [`0x${'8010'.repeat(16)}`, `0x${'11'.repeat(68)}${'8010'.repeat(16)}`]) {
      await assert.rejects(check(v, signature), refusedWith('bad_signature'));
    }
    assert.equal(calls.length, before);
  });

  it('ends a check that does not answer at its deadline: verifier_unavailable', async () => {
    answer = 'hang';
    await assert.rejects(check(verifier(200)), refusedWith('verifier_unavailable'));
  });

  it(`asks the endpoint its chain id once per process, then one eth_call a check (of at most ${MAX_RPC_CALLS_PER_CHECK})`, async () => {
    answer = { body: `{"jsonrpc":"2.0","id":$ID,"result":"0x${'00'.repeat(31)}01"}` };
    const v = verifier();
    calls.length = 0;
    await check(v);
    await check(v);
    assert.deepEqual(calls, ['eth_chainId', 'eth_call', 'eth_call']);
  });

  it('refuses a contract signature on a chain it has no RPC for, without asking anything', async () => {
    calls.length = 0;
    const v = verifier();
    await assert.rejects(
      verify(v, { message, signature: `0x${'22'.repeat(200)}`, address: contract, chainId: 8453 }),
      refusedWith('contract_wallet_unsupported'),
    );
    // 65 bytes that are not the address's own key: most likely a wrong key, so bad_signature, still without a call.
    await assert.rejects(verify(v, { message, signature: await wallet.signMessage(message), address: contract, chainId: 8453 }), refusedWith('bad_signature'));
    assert.deepEqual(calls, []);
  });
});
