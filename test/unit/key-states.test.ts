// buildKeySet: which stored key signs, which are only published, and when the set changes by itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildKeySet } from '../../src/oidc/key-states.ts';
import type { StoredSigningKey } from '../../src/oidc/ports.ts';

const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000);

/** A stored key with only what buildKeySet reads (no real key material: it never signs here). */
const key = (kid: string, alg: string, activatesAt: number, retiredAt?: number): StoredSigningKey => ({
  kid,
  alg,
  jwk: { kty: 'test', kid, alg, use: 'sig' },
  createdAt: at(Math.min(activatesAt, 0)),
  activatesAt: at(activatesAt),
  retiredAt: retiredAt === undefined ? undefined : at(retiredAt),
});

describe('buildKeySet', () => {
  const stored = [key('rs-old', 'RS256', -100), key('rs-gone', 'RS256', -200, -50), key('rs-next', 'RS256', 60), key('ed', 'EdDSA', -100)];

  it('makes the latest activated key of each algorithm active, older ones previous, later ones pending', () => {
    const { keys } = buildKeySet(stored, at(0));
    assert.deepEqual(
      keys.map((k) => `${k.kid} ${k.state}`),
      ['rs-next pending', 'rs-old active', 'rs-gone retired', 'ed active'],
    );
    assert.equal(buildKeySet(stored, at(60)).keys.find((k) => k.kid === 'rs-next')!.state, 'active');
  });

  it('lets only the active keys sign: the others are published with key_ops verify, after them', () => {
    const { jwks } = buildKeySet(stored, at(0));
    assert.deepEqual(
      jwks.map((k) => `${k.kid} ${k.key_ops?.join('+') ?? 'sign'}`),
      ['rs-old sign', 'ed sign', 'rs-next verify'],
    );
  });

  it('wakes at the next activation, and not at all once none is pending', () => {
    assert.equal(buildKeySet(stored, at(0)).nextActivation?.getTime(), at(60).getTime());
    assert.equal(buildKeySet(stored, at(60)).nextActivation, undefined);
  });
});
