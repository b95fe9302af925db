// ID token signing keys: one per algorithm in each generation. RS256 is what every broker and RP library
// verifies (our default); ES256 and EdDSA (Ed25519) are for clients that register them.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { JWK } from 'oidc-provider';

/** The algorithms we sign with, each with its own key; a rotation renews all of them together. */
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const GENERATORS: Record<SigningAlg, () => KeyObject> = {
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  EdDSA: () => generateKeyPairSync('ed25519').privateKey,
};

/** A new private JWK for `alg` with a random kid. */
export function generateSigningJwk(alg: SigningAlg): JWK {
  const jwk = GENERATORS[alg]().export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: randomUUID(), alg, use: 'sig' };
}
