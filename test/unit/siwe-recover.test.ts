// Signature recovery: the native libsecp256k1 path and the ethers fallback agree on every input shape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Signature, Wallet } from 'ethers';
import { chooseRecover, createNativeRecover, loadNative, recoverWithEthers } from '../../src/siwe/recover.ts';

function setup() {
  const native = loadNative();
  if (!native) throw new Error('the secp256k1 binding did not load: its prebuilt linux-x64 binary ships inside the package');
  return { nativeRecover: createNativeRecover(native), wallet: Wallet.createRandom() };
}

describe('chooseRecover', () => {
  it('uses the native binding on this platform', () => {
    assert.equal(chooseRecover().implementation, 'libsecp256k1');
  });

  it('recovers the same signer as ethers for 65-byte, v 0/1 and EIP-2098 compact signatures', async () => {
    const { nativeRecover, wallet } = setup();
    for (const message of ['hello', 'line one\nline two', 'ünïcödé ✓', 'x'.repeat(2000)]) {
      const signature = await wallet.signMessage(message);
      const sig = Signature.from(signature);
      const shapes = [signature, sig.compactSerialized, `${signature.slice(0, -2)}${sig.yParity === 0 ? '00' : '01'}`];
      for (const shape of shapes) {
        assert.equal(nativeRecover(message, shape), wallet.address, `${JSON.stringify(message.slice(0, 20))} ${shape.length}`);
        assert.equal(recoverWithEthers(message, shape), wallet.address);
      }
      assert.equal(chooseRecover().recover(message, signature), wallet.address);
    }
  });

  it('gives another address for another message, and undefined for malformed signatures, like ethers', async () => {
    const { nativeRecover, wallet } = setup();
    const signature = await wallet.signMessage('signed');
    assert.notEqual(nativeRecover('not signed', signature), wallet.address);
    assert.equal(nativeRecover('not signed', signature), recoverWithEthers('not signed', signature));
    for (const bad of ['0x', '0x1234', `0x${'00'.repeat(65)}`, `0x${'ff'.repeat(65)}`, 'not hex']) {
      assert.equal(nativeRecover('signed', bad), undefined, bad);
      assert.equal(recoverWithEthers('signed', bad), undefined, bad);
    }
  });
});
