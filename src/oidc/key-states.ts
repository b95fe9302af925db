// Which signing key does what at a given time, from the stored times alone (no clock inside): the JWKS
// oidc-provider gets, the state `keys list` shows, and when the next key starts signing.
import type { JWK } from 'oidc-provider';
import { SIGNING_ALGS } from './keys.ts';
import type { StoredSigningKey } from './ports.ts';

/**
 * - `pending`: published, signs from its activation time (RPs that cache the JWKS learn it first);
 * - `active`: signs: the latest activated unretired key of its algorithm;
 * - `previous`: activated before the active one; published so its tokens still verify;
 * - `retired`: withdrawn from the JWKS.
 */
export type KeyState = 'pending' | 'active' | 'previous' | 'retired';

export interface KeyStatus extends StoredSigningKey {
  state: KeyState;
}

export interface KeySet {
  /** Every key with its state, in the order `keys list` prints: by algorithm (RS256, ES256, EdDSA), then pending, active, previous, retired. */
  keys: KeyStatus[];
  /**
   * What oidc-provider gets as `jwks`: every published key. Only the active keys may sign: the others carry
   * `key_ops: ['verify']`, which oidc-provider's selectForSign honours (lib/helpers/keystore.js) and RP libraries
   * read as "verify with it" (RFC 7517 §4.3). Active keys come first as a second guard: selectForSign takes the first.
   */
  jwks: JWK[];
  /** The earliest activation still to come, when the set changes by itself; undefined when none is pending. */
  nextActivation: Date | undefined;
}

const ORDER: Record<KeyState, number> = { pending: 0, active: 1, previous: 2, retired: 3 };
/** RS256 first, as SIGNING_ALGS lists them: discovery advertises the algorithms in the JWKS's order. */
const algRank = (alg: string) => (SIGNING_ALGS as readonly string[]).indexOf(alg) >>> 0;

/** Later activation first; equal times by creation, then kid, so every instance picks the same key. */
const newestFirst = (a: StoredSigningKey, b: StoredSigningKey) =>
  b.activatesAt.getTime() - a.activatesAt.getTime() || b.createdAt.getTime() - a.createdAt.getTime() || (a.kid < b.kid ? -1 : 1);

export function buildKeySet(stored: readonly StoredSigningKey[], now: Date): KeySet {
  const t = now.getTime();
  const activeAlgs = new Set<string>();
  const keys: KeyStatus[] = [...stored].sort(newestFirst).map((k) => {
    let state: KeyState;
    if (k.retiredAt) state = 'retired';
    else if (k.activatesAt.getTime() > t) state = 'pending';
    else if (activeAlgs.has(k.alg)) state = 'previous';
    else {
      activeAlgs.add(k.alg);
      state = 'active';
    }
    return { ...k, state };
  });
  keys.sort((a, b) => algRank(a.alg) - algRank(b.alg) || ORDER[a.state] - ORDER[b.state]);
  const published = keys.filter((k) => k.state !== 'retired');
  const jwks = [
    ...published.filter((k) => k.state === 'active').map((k) => ({ ...k.jwk })),
    ...published.filter((k) => k.state !== 'active').map((k) => ({ ...k.jwk, key_ops: ['verify'] })),
  ];
  const upcoming = published.filter((k) => k.state === 'pending').map((k) => k.activatesAt.getTime());
  return { keys, jwks, nextActivation: upcoming.length ? new Date(Math.min(...upcoming)) : undefined };
}

/** A key set's identity for oidc-provider: which keys are published and which sign. Equal means no rebuild. */
export const keySetFingerprint = (set: KeySet): string =>
  set.keys
    .filter((k) => k.state !== 'retired')
    .map((k) => `${k.kid}:${k.state === 'active' ? 'sign' : 'verify'}`)
    .sort()
    .join(',');
