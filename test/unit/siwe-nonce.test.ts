// Unit tests for SIWE challenge nonces (src/siwe/nonce.ts): grammar, entropy, uniqueness.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateNonce } from '../../src/siwe/nonce.ts';

function setup(count = 2000) {
  const draws = Array.from({ length: count }, () => generateNonce());
  /** Characters seen anywhere, and the distinct characters seen at each position. */
  const alphabet = new Set(draws.join(''));
  const length = Math.min(...draws.map((n) => n.length));
  const perPosition = Array.from({ length }, (_, i) => new Set(draws.map((n) => n[i])));
  return { draws, alphabet, length, perPosition };
}

describe('generateNonce', () => {
  it('follows the EIP-4361 nonce grammar: at least 8 letters or digits', () => {
    const { draws } = setup();
    for (const nonce of draws) assert.match(nonce, /^[A-Za-z0-9]{8,}$/);
  });

  it('carries at least 96 random bits', () => {
    const { alphabet, length } = setup();
    // Upper bound on entropy from what the nonces can express; the next test shows every position really varies.
    assert.ok(length * Math.log2(alphabet.size) >= 96, `${length} characters over an alphabet of ${alphabet.size}`);
  });

  it('varies at every position, with no fixed prefix or counter', () => {
    const { alphabet, perPosition } = setup();
    const expected = Math.min(alphabet.size, 8);
    perPosition.forEach((seen, i) => assert.ok(seen.size >= expected, `position ${i} took only ${seen.size} values`));
  });

  it('never repeats over many draws', () => {
    const { draws } = setup(20_000);
    assert.equal(new Set(draws).size, draws.length);
  });
});
