// Unit tests for sealing secrets at rest with AES-256-GCM (src/db/secret-box.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { WrongKeyError } from '../../src/errors.ts';

function setup() {
  const box = createSecretBox(randomBytes(32));
  /** Sealed values are `v1.<keyId>.<iv>.<tag>.<ciphertext>`; flips one bit of a decoded base64url part. */
  const flipBit = (sealed: string, part: 2 | 3 | 4): string => {
    const parts = sealed.split('.');
    const bytes = Buffer.from(parts[part]!, 'base64url');
    bytes[0] = bytes[0]! ^ 1;
    parts[part] = bytes.toString('base64url');
    return parts.join('.');
  };
  const isTamperError = (e: unknown) => e instanceof Error && !(e instanceof WrongKeyError);
  return { box, flipBit, isTamperError };
}

describe('createSecretBox', () => {
  it('opens what it sealed', () => {
    const { box } = setup();
    for (const plaintext of ['client-secret-1', '', 'ünïcødé 🔑', 'x'.repeat(10_000)]) {
      assert.equal(box.open(box.seal(plaintext)), plaintext);
    }
  });

  it('does not show the plaintext in the sealed value', () => {
    const { box } = setup();
    const sealed = box.seal('super-secret-value');
    assert.ok(!sealed.includes('super-secret-value'));
    assert.ok(!sealed.includes(Buffer.from('super-secret-value').toString('base64url')));
  });

  it('uses a fresh IV for each seal, so the same plaintext seals differently', () => {
    const { box } = setup();
    const [a, b] = [box.seal('same'), box.seal('same')];
    assert.notEqual(a, b);
    assert.notEqual(a.split('.')[2], b.split('.')[2]);
  });

  it('refuses a sealed value whose ciphertext was changed', () => {
    const { box, flipBit, isTamperError } = setup();
    assert.throws(() => box.open(flipBit(box.seal('client-secret-1'), 4)), isTamperError);
  });

  it('refuses a sealed value whose tag or IV was changed', () => {
    const { box, flipBit, isTamperError } = setup();
    const sealed = box.seal('client-secret-1');
    assert.throws(() => box.open(flipBit(sealed, 3)), isTamperError);
    assert.throws(() => box.open(flipBit(sealed, 2)), isTamperError);
  });

  it('refuses a value that is not sealed', () => {
    const { box, isTamperError } = setup();
    for (const value of ['client-secret-1', 'v2.a.b.c.d', '']) assert.throws(() => box.open(value), isTamperError, value);
  });

  it('names the key: the same key gives the same key id, another key another id', () => {
    const key = randomBytes(32);
    assert.equal(createSecretBox(key).keyId, createSecretBox(Buffer.from(key)).keyId);
    assert.notEqual(createSecretBox(key).keyId, createSecretBox(randomBytes(32)).keyId);
  });

  it('throws WrongKeyError for a value sealed under another key', () => {
    const { box } = setup();
    const other = createSecretBox(randomBytes(32));
    assert.throws(() => box.open(other.seal('client-secret-1')), WrongKeyError);
  });

  it('opens values sealed under a previous key, and seals only under the current one', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const old = createSecretBox(oldKey);
    const rotating = createSecretBox(newKey, [oldKey]);
    assert.deepEqual(rotating.previousKeyIds, [old.keyId]);
    assert.equal(rotating.open(old.seal('client-secret-1')), 'client-secret-1');
    const resealed = rotating.seal('client-secret-1');
    assert.equal(rotating.keyIdOf(resealed), createSecretBox(newKey).keyId);
    assert.equal(createSecretBox(newKey).open(resealed), 'client-secret-1');
    assert.throws(() => old.open(resealed), WrongKeyError, 'the old key alone does not open what the new one sealed');
  });

  it('names the current and the previous key ids when no key it holds fits', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const box = createSecretBox(a, [b, a]);
    assert.deepEqual(box.previousKeyIds, [createSecretBox(b).keyId], 'the current key is not listed again');
    assert.throws(
      () => box.open(createSecretBox(c).seal('x')),
      (err) =>
        err instanceof WrongKeyError &&
        err.keyId === createSecretBox(c).keyId &&
        err.message.includes(`ENCRYPTION_KEY_PREVIOUS holds ${createSecretBox(b).keyId}`),
    );
  });

  it('refuses a key that is not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => createSecretBox(randomBytes(length)), TypeError, `${length} bytes`);
      assert.throws(() => createSecretBox(randomBytes(32), [randomBytes(length)]), TypeError, `a previous key of ${length} bytes`);
    }
  });
});
