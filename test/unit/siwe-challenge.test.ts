// Unit tests for the SIWE login step (src/siwe/challenge.ts) with a fixed clock and an in-memory nonce store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { AppError, type ReasonCode } from '../../src/errors.ts';
import type { IssuedNonce, NonceStore, SignatureCheck, SignatureVerifier } from '../../src/siwe/ports.ts';
import { buildStatement, createSiweService, MAX_CHALLENGES_PER_INTERACTION, type ChallengeRequest } from '../../src/siwe/challenge.ts';
import { parseSiweMessage } from '../../src/siwe/conformance.ts';
import { createEoaVerifier } from '../../src/siwe/eoa-verifier.ts';
import { chooseRecover } from '../../src/siwe/recover.ts';
import { eventually } from '../helpers/eventually.ts';

/** The NonceStore contract of src/db/nonces.ts in memory: nonce is the key, bound to one interaction, capped per interaction, consumed once. */
function createMemoryNonceStore() {
  const rows = new Map<string, { issued: IssuedNonce; consumedAt: Date | undefined }>();
  const store: NonceStore = {
    async insert(issued, limit) {
      if (rows.has(issued.nonce)) throw new Error(`duplicate nonce ${issued.nonce}`);
      const taken = [...rows.values()].filter((r) => r.issued.interactionUid === issued.interactionUid).length;
      if (taken >= limit) return false;
      rows.set(issued.nonce, { issued: { ...issued }, consumedAt: undefined });
      return true;
    },
    async pending(nonce, interactionUid) {
      const row = rows.get(nonce);
      return row && row.issued.interactionUid === interactionUid && !row.consumedAt ? { ...row.issued } : undefined;
    },
    async consume(nonce, interactionUid, now) {
      const row = rows.get(nonce);
      if (!row || row.issued.interactionUid !== interactionUid) return { status: 'unknown' };
      if (row.consumedAt) return { status: 'used' };
      row.consumedAt = now;
      return { status: 'consumed', issued: { ...row.issued } };
    },
  };
  return { store, rows };
}

function setup(verifier: SignatureVerifier = createEoaVerifier(chooseRecover().recover)) {
  const { store, rows } = createMemoryNonceStore();
  let now = new Date('2025-01-02T03:04:05.678Z');
  const issuer = new URL('https://id.example.com:8443');
  const service = createSiweService({
    nonces: store,
    verifier,
    clock: () => new Date(now),
    issuer,
    allowedChains: [1, 137],
    ttlSeconds: 300,
  });
  const wallet = Wallet.createRandom();
  const request: ChallengeRequest = {
    interactionUid: 'uid-abc123',
    clientId: 'client-1',
    clientName: 'Acme',
    redirectUri: 'https://rp.example.org/callback',
    address: wallet.address,
    chainId: 1,
  };
  return {
    service,
    rows,
    wallet,
    issuer,
    request,
    advance: (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
    challenge: (patch: Partial<ChallengeRequest> = {}) => service.issueChallenge({ ...request, ...patch }),
    verify: (message: string, signature: string, interactionUid = request.interactionUid) => service.verifyLogin({ interactionUid, message, signature }),
    code: (c: ReasonCode) => (e: unknown) => e instanceof AppError && e.code === c,
  };
}

describe('issueChallenge', () => {
  it('binds the message to the issuer: domain is its host with the port, uri its origin', async () => {
    const { challenge } = setup();
    const fields = parseSiweMessage((await challenge()).message);
    assert.equal(fields.domain, 'id.example.com:8443');
    assert.equal(fields.uri, 'https://id.example.com:8443');
    assert.equal(fields.version, '1');
  });

  it('names the client in the statement', async () => {
    const { challenge } = setup();
    const { statement } = parseSiweMessage((await challenge({ clientName: 'Acme Payroll' })).message);
    assert.match(statement ?? '', /Acme Payroll/);
  });

  it('keeps the statement EIP-4361-legal for a client name with emoji, line breaks and quotes', async () => {
    const { challenge, issuer } = setup();
    const clientName = 'Acme "Corp" 🚀\nURI: https://evil.example\r\nChain ID: 5';
    const { message } = await challenge({ clientName });
    const fields = parseSiweMessage(message);
    assert.match(fields.statement ?? '', /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]+$/);
    assert.match(fields.statement ?? '', /Acme/);
    // The name cannot smuggle lines into the message.
    assert.equal(fields.uri, issuer.origin);
    assert.equal(fields.chainId, 1);
    assert.equal(message.split('\n').length, 14);
  });

  it("appends the operator's BRAND_STATEMENT to the statement", () => {
    assert.equal(
      buildStatement('Acme', 'id', 'By signing you accept https://id.example/terms'),
      'Sign in to Acme. By signing you accept https://id.example/terms',
    );
    assert.equal(buildStatement('Acme', 'id'), 'Sign in to Acme.');
  });

  it('names the client by its id when its name has no character a statement may carry', async () => {
    const { challenge } = setup();
    for (const clientName of [undefined, '🚀🚀', '  ']) {
      const { statement } = parseSiweMessage((await challenge({ clientName })).message);
      assert.match(statement ?? '', /client-1/, JSON.stringify(clientName));
    }
  });

  it('sets the request id to the interaction uid and the resources to the redirect uri', async () => {
    const { challenge } = setup();
    const fields = parseSiweMessage((await challenge()).message);
    assert.equal(fields.requestId, 'uid-abc123');
    assert.deepEqual(fields.resources, ['https://rp.example.org/callback']);
  });

  it('is issued now and expires ttl seconds later', async () => {
    const { challenge } = setup();
    const { message, expiresAt } = await challenge();
    const fields = parseSiweMessage(message);
    assert.equal(fields.issuedAt, '2025-01-02T03:04:05.678Z');
    assert.equal(fields.expirationTime, '2025-01-02T03:09:05.678Z');
    assert.equal(expiresAt.toISOString(), '2025-01-02T03:09:05.678Z');
  });

  it('uses the chain the wallet asked for', async () => {
    const { challenge } = setup();
    assert.equal(parseSiweMessage((await challenge({ chainId: 137 })).message).chainId, 137);
  });

  it('returns the nonce of the message and stores the exact message for that interaction', async () => {
    const { challenge, rows, wallet } = setup();
    const { message, nonce } = await challenge();
    assert.equal(parseSiweMessage(message).nonce, nonce);
    const row = rows.get(nonce);
    assert.ok(row);
    assert.equal(row.issued.message, message);
    assert.equal(row.issued.interactionUid, 'uid-abc123');
    assert.equal(row.issued.clientId, 'client-1');
    assert.equal(row.issued.address, wallet.address);
    assert.equal(row.issued.chainId, 1);
  });

  it('draws a fresh nonce for every challenge', async () => {
    const { challenge } = setup();
    const nonces = await Promise.all(Array.from({ length: MAX_CHALLENGES_PER_INTERACTION }, async () => (await challenge()).nonce));
    assert.equal(new Set(nonces).size, nonces.length);
  });

  it('refuses more challenges than the cap for one interaction, and only for that one', async () => {
    const { challenge, code } = setup();
    for (let i = 0; i < MAX_CHALLENGES_PER_INTERACTION; i++) await challenge();
    await assert.rejects(challenge(), code('too_many_challenges'));
    assert.ok((await challenge({ interactionUid: 'uid-other' })).nonce);
  });

  it('refuses a chain outside the allow-list and stores nothing', async () => {
    const { challenge, rows, code } = setup();
    await assert.rejects(challenge({ chainId: 5 }), code('chain_not_allowed'));
    assert.equal(rows.size, 0);
  });

  it('refuses something that is not an Ethereum address', async () => {
    const { challenge, rows, code } = setup();
    for (const address of ['', 'alice.eth', '0x1234', `0x${'g'.repeat(40)}`]) {
      await assert.rejects(challenge({ address }), code('address_invalid'), JSON.stringify(address));
    }
    assert.equal(rows.size, 0);
  });

  it('refuses a mixed-case address whose checksum is wrong', async () => {
    const { challenge, code } = setup();
    // A fixed address with both cases: flipping a letter of a random one can leave it all one case, a valid unchecksummed form.
    const address = '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A';
    const swapped = address.replace(/[a-f]/, (c) => c.toUpperCase());
    assert.match(swapped, /[a-f]/, 'still mixed case after the flip');
    await assert.rejects(challenge({ address: swapped }), code('address_invalid'));
  });

  it('accepts a lowercase address and puts its checksummed form in the message', async () => {
    const { challenge, wallet } = setup();
    const { message } = await challenge({ address: wallet.address.toLowerCase() });
    assert.equal(parseSiweMessage(message).address, wallet.address);
  });
});

describe('verifyLogin', () => {
  it('returns the address, chain and client of a correctly signed challenge', async () => {
    const { challenge, verify, wallet } = setup();
    const { message } = await challenge({ chainId: 137 });
    const login = await verify(message, wallet.signMessageSync(message));
    assert.deepEqual(login, { address: wallet.address, chainId: 137, walletType: 'eoa', clientId: 'client-1' });
  });

  it('refuses a challenge that was issued for another interaction', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message } = await challenge();
    await assert.rejects(verify(message, wallet.signMessageSync(message), 'uid-other'), code('nonce_unknown'));
  });

  it('refuses a message whose nonce was never issued', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message, nonce } = await challenge();
    const forged = message.replace(`Nonce: ${nonce}`, 'Nonce: 0123456789abcdef');
    await assert.rejects(verify(forged, wallet.signMessageSync(forged)), code('nonce_unknown'));
  });

  it('refuses the same signed message a second time', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message } = await challenge();
    const signature = wallet.signMessageSync(message);
    await verify(message, signature);
    await assert.rejects(verify(message, signature), code('nonce_used'));
  });

  it('lets exactly one of several concurrent submissions through', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message } = await challenge();
    const signature = wallet.signMessageSync(message);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => verify(message, signature)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(code('nonce_used')(r.reason));
  });

  it('refuses a message that differs from the issued one by one byte, with the same nonce', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message } = await challenge();
    const altered = message.replace('Sign in to Acme.', 'Sign in to Acmf.');
    assert.notEqual(altered, message);
    await assert.rejects(verify(altered, wallet.signMessageSync(altered)), code('message_mismatch'));
  });

  it('refuses a challenge once the clock has reached its expiry', async () => {
    const { challenge, verify, wallet, advance, code } = setup();
    const { message } = await challenge();
    advance(300);
    await assert.rejects(verify(message, wallet.signMessageSync(message)), code('expired'));
  });

  it('accepts a challenge just before its expiry', async () => {
    const { challenge, verify, wallet, advance } = setup();
    const { message } = await challenge();
    advance(299);
    assert.equal((await verify(message, wallet.signMessageSync(message))).address, wallet.address);
  });

  it('refuses a signature made by another wallet', async () => {
    const { challenge, verify, code } = setup();
    const { message } = await challenge();
    await assert.rejects(verify(message, Wallet.createRandom().signMessageSync(message)), code('bad_signature'));
  });

  it('burns the nonce even when the signature is bad, so a retry is refused as used', async () => {
    const { challenge, verify, wallet, code } = setup();
    const { message } = await challenge();
    await assert.rejects(verify(message, '0x1234'), code('bad_signature'));
    await assert.rejects(verify(message, wallet.signMessageSync(message)), code('nonce_used'));
  });

  it('refuses text that is not an EIP-4361 message', async () => {
    const { verify, code } = setup();
    await assert.rejects(verify('please let me in', '0x1234'), code('invalid_message'));
  });
});

describe('proveSignature, then verifyLogin with its proof', () => {
  /** A verifier whose every check needs "the chain": it accepts one signature and records what it was asked. */
  function chainOnly() {
    const asked: SignatureCheck[] = [];
    const verifier: SignatureVerifier = {
      checkLocally: () => undefined,
      async checkOnChain(check) {
        asked.push(check);
        if (check.signature !== GOOD) throw new AppError('bad_signature', 'the contract refused it');
        return { walletType: 'contract' };
      },
    };
    return { verifier, asked };
  }
  const GOOD = `0x${'c0'.repeat(100)}`;

  it('asks the chain before the transaction, and verifyLogin takes that answer for exactly that check', async () => {
    const { verifier, asked } = chainOnly();
    const { challenge, service, request } = setup(verifier);
    const { message } = await challenge();
    const proof = await service.proveSignature({ interactionUid: request.interactionUid, message, signature: GOOD });
    assert.deepEqual(asked, [{ message, signature: GOOD, address: request.address, chainId: 1 }]);
    const login = await service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD, proof });
    assert.equal(login.walletType, 'contract');
    assert.equal(asked.length, 1, 'the transaction step asks nothing');
  });

  it('asks nothing for a challenge that is used, unknown or expired: replays cost no RPC call', async () => {
    const { verifier, asked } = chainOnly();
    const { challenge, service, request, advance, code } = setup(verifier);
    const { message, nonce } = await challenge();
    const prove = (m: string, uid = request.interactionUid) => service.proveSignature({ interactionUid: uid, message: m, signature: GOOD });
    assert.equal(await prove(message, 'uid-other'), undefined);
    assert.equal(await prove(message.replace(`Nonce: ${nonce}`, 'Nonce: 0123456789abcdef')), undefined);
    assert.equal(await prove(message.replace('Sign in to Acme.', 'Sign in to Acmf.')), undefined);
    const proof = await prove(message);
    await service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD, proof });
    assert.equal(await prove(message), undefined, 'used');
    const second = await challenge();
    advance(300);
    assert.equal(await prove(second.message), undefined, 'expired');
    assert.equal(asked.length, 1);
    await assert.rejects(service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD }), code('nonce_used'));
  });

  it('refuses, and burns the challenge, when no proof covers the check: the chain is never assumed to agree', async () => {
    const { verifier } = chainOnly();
    const { challenge, service, request, code } = setup(verifier);
    const { message } = await challenge();
    const other = await challenge();
    // A proof made for another message of this login does not cover this one.
    const proof = await service.proveSignature({ interactionUid: request.interactionUid, message: other.message, signature: GOOD });
    await assert.rejects(service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD, proof }), code('bad_signature'));
    await assert.rejects(service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD, proof }), code('nonce_used'));
  });

  it("carries the chain's refusal into the transaction, where it burns the challenge", async () => {
    const { verifier } = chainOnly();
    const { challenge, service, request, code } = setup(verifier);
    const { message } = await challenge();
    const bad = `0x${'0b'.repeat(100)}`;
    const proof = await service.proveSignature({ interactionUid: request.interactionUid, message, signature: bad });
    assert.ok(proof && 'refusal' in proof);
    await assert.rejects(service.verifyLogin({ interactionUid: request.interactionUid, message, signature: bad, proof }), code('bad_signature'));
    await assert.rejects(service.verifyLogin({ interactionUid: request.interactionUid, message, signature: GOOD }), code('nonce_used'));
  });

  it('lets concurrent copies of one signed answer share one question to the chain', async () => {
    const asked: SignatureCheck[] = [];
    let answer!: () => void;
    const gate = new Promise<void>((resolve) => (answer = resolve));
    const verifier: SignatureVerifier = {
      checkLocally: () => undefined,
      async checkOnChain(check) {
        asked.push(check);
        await gate;
        return { walletType: 'contract' };
      },
    };
    const { challenge, service, request } = setup(verifier);
    const { message } = await challenge();
    const input = { interactionUid: request.interactionUid, message, signature: GOOD };
    const copies = Array.from({ length: 5 }, () => service.proveSignature(input));
    await eventually('the first copy to ask the chain', async () => (asked.length ? true : undefined));
    answer();
    const proofs = await Promise.all(copies);
    assert.equal(asked.length, 1);
    assert.ok(proofs.every((p) => p && 'walletType' in p && p.walletType === 'contract'));
    // Once answered, the question is forgotten: a later copy asks again.
    await service.proveSignature(input);
    assert.equal(asked.length, 2);
  });

  it('lets a chain that cannot be asked reject before anything is used: the same message succeeds afterwards', async () => {
    let down = true;
    const verifier: SignatureVerifier = {
      checkLocally: () => undefined,
      async checkOnChain() {
        if (down) throw new AppError('verifier_unavailable', 'the chain did not answer');
        return { walletType: 'contract' };
      },
    };
    const { challenge, service, request, code } = setup(verifier);
    const { message } = await challenge();
    const input = { interactionUid: request.interactionUid, message, signature: GOOD };
    await assert.rejects(service.proveSignature(input), code('verifier_unavailable'));
    down = false;
    const proof = await service.proveSignature(input);
    assert.equal((await service.verifyLogin({ ...input, proof })).walletType, 'contract');
  });
});
