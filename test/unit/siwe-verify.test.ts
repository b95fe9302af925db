// Unit tests for checking a signed EIP-4361 message: bindings with an injected time (src/siwe/conformance.ts), EOA signatures (src/siwe/eoa-verifier.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { AppError, type ReasonCode } from '../../src/errors.ts';
import { buildSiweMessage, type SiweFields } from '../../src/siwe/message.ts';
import { checkBindings } from '../../src/siwe/conformance.ts';
import { checkEoaSignature as checkWith, createEoaVerifier } from '../../src/siwe/eoa-verifier.ts';
import { chooseRecover } from '../../src/siwe/recover.ts';

const { recover: recoverSigner } = chooseRecover();
const checkEoaSignature = (message: string, signature: string, address: string) => checkWith(recoverSigner, message, signature, address);

function setup() {
  const wallet = Wallet.createRandom();
  const fields: SiweFields = {
    domain: 'id.example.com:8443',
    address: wallet.address,
    statement: 'Sign in to Acme.',
    uri: 'https://id.example.com:8443',
    version: '1',
    chainId: 1,
    nonce: 'a1b2c3d4e5f6a7b8',
    issuedAt: '2025-01-02T03:04:05.000Z',
    notBefore: '2025-01-02T03:04:05.000Z',
    expirationTime: '2025-01-02T03:09:05.000Z',
  };
  const message = buildSiweMessage(fields);
  const signature = wallet.signMessageSync(message);
  const at = (iso: string) => new Date(iso);
  /** Expectations that the fields meet, one minute into their window. */
  const expect = { now: at('2025-01-02T03:05:05.000Z'), domain: 'id.example.com:8443', nonce: 'a1b2c3d4e5f6a7b8', scheme: 'https' };
  const withFields = (patch: Partial<SiweFields>): SiweFields => ({ ...fields, ...patch });
  const code = (c: ReasonCode) => (e: unknown) => e instanceof AppError && e.code === c;
  return { wallet, fields, message, signature, at, expect, withFields, code };
}

describe('checkBindings', () => {
  it('accepts a message inside its window for the expected domain, scheme and nonce', () => {
    const { fields, expect } = setup();
    assert.doesNotThrow(() => checkBindings(fields, expect));
  });

  it('refuses a message at its expiration time and after it', () => {
    const { fields, expect, at, code } = setup();
    assert.throws(() => checkBindings(fields, { ...expect, now: at('2025-01-02T03:09:05.000Z') }), code('expired'));
    assert.throws(() => checkBindings(fields, { ...expect, now: at('2025-01-02T04:00:00.000Z') }), code('expired'));
  });

  it('accepts a message one millisecond before it expires', () => {
    const { fields, expect, at } = setup();
    assert.doesNotThrow(() => checkBindings(fields, { ...expect, now: at('2025-01-02T03:09:04.999Z') }));
  });

  it('refuses a message before its not-before time', () => {
    const { fields, expect, at, code } = setup();
    assert.throws(() => checkBindings(fields, { ...expect, now: at('2025-01-02T03:04:04.999Z') }), code('expired'));
  });

  it('accepts a message from its not-before time on', () => {
    const { fields, expect, at } = setup();
    assert.doesNotThrow(() => checkBindings(fields, { ...expect, now: at('2025-01-02T03:04:05.000Z') }));
  });

  it('compares expiry as instants, whatever the time zone offset', () => {
    const { withFields, expect, at, code } = setup();
    // 05:00+02:00 is 03:00Z, already past at 03:05Z.
    assert.throws(
      () => checkBindings(withFields({ expirationTime: '2025-01-02T05:00:00+02:00' }), { ...expect, now: at('2025-01-02T03:05:00Z') }),
      code('expired'),
    );
  });

  it('refuses a message for another domain', () => {
    const { fields, expect, code } = setup();
    assert.throws(() => checkBindings(fields, { ...expect, domain: 'evil.example' }), code('domain_mismatch'));
  });

  it('refuses a message for the same host on another port', () => {
    const { fields, expect, code } = setup();
    assert.throws(() => checkBindings(fields, { ...expect, domain: 'id.example.com' }), code('domain_mismatch'));
  });

  it('refuses a message that names another scheme', () => {
    const { withFields, expect, code } = setup();
    assert.throws(() => checkBindings(withFields({ scheme: 'http' }), expect), code('domain_mismatch'));
  });

  it('takes a message without a scheme to mean https', () => {
    const { fields, expect, code } = setup();
    assert.doesNotThrow(() => checkBindings(fields, { ...expect, scheme: 'https' }));
    assert.throws(() => checkBindings(fields, { ...expect, scheme: 'http' }), code('domain_mismatch'));
  });

  it('refuses a message that carries another nonce', () => {
    const { fields, expect, code } = setup();
    assert.throws(() => checkBindings(fields, { ...expect, nonce: 'z9y8x7w6v5u4' }), code('message_mismatch'));
  });
});

describe('recoverSigner', () => {
  it('returns the checksummed address that signed the message', () => {
    const { wallet, message, signature } = setup();
    assert.equal(recoverSigner(message, signature), wallet.address);
  });

  it('returns undefined for a malformed signature', () => {
    const { message } = setup();
    for (const bad of ['', '0x', '0x1234', 'not a signature', `0x${'zz'.repeat(65)}`]) {
      assert.equal(recoverSigner(message, bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('checkEoaSignature', () => {
  it('accepts the signature of the address in the message', () => {
    const { wallet, message, signature } = setup();
    assert.doesNotThrow(() => checkEoaSignature(message, signature, wallet.address));
  });

  it('refuses a signature made by another wallet', () => {
    const { wallet, message, code } = setup();
    const other = Wallet.createRandom().signMessageSync(message);
    assert.throws(() => checkEoaSignature(message, other, wallet.address), code('bad_signature'));
  });

  it('refuses a malformed signature', () => {
    const { wallet, message, signature, code } = setup();
    assert.throws(() => checkEoaSignature(message, '0x1234', wallet.address), code('bad_signature'));
    // Not 65 bytes, nor the 64 of an EIP-2098 compact signature (which ethers rightly accepts).
    assert.throws(() => checkEoaSignature(message, signature.slice(0, -10), wallet.address), code('bad_signature'));
    assert.throws(() => checkEoaSignature(message, `${signature}00`, wallet.address), code('bad_signature'));
  });

  it('refuses a signature over a message that was changed afterwards', () => {
    const { wallet, message, signature, code } = setup();
    const tampered = message.replace('Sign in to Acme.', 'Sign in to Acmf.');
    assert.notEqual(tampered, message);
    assert.throws(() => checkEoaSignature(tampered, signature, wallet.address), code('bad_signature'));
  });
});

describe('createEoaVerifier', () => {
  it('resolves with the wallet type for the signer, and rejects another address with bad_signature', async () => {
    const { wallet, message, signature, code } = setup();
    const verifier = createEoaVerifier(recoverSigner);
    assert.deepEqual(verifier.checkLocally({ message, signature, address: wallet.address, chainId: 1 }), { walletType: 'eoa' });
    assert.throws(() => verifier.checkLocally({ message, signature, address: Wallet.createRandom().address, chainId: 1 }), code('bad_signature'));
    // It never asks a chain: what recovery does not prove is refused.
    await assert.rejects(verifier.checkOnChain({ message, signature, address: wallet.address, chainId: 1 }), code('bad_signature'));
  });
});
