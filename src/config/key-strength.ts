// Keys that are not random: a placeholder, one character repeated, a short pattern repeated, a run
// of the alphabet. `openssl rand -hex 32` output passes every check; none of these can.
// Not a password-strength estimator (zxcvbn and the like rank human passwords up to ~10^10 guesses,
// far below a key's bar): these are narrow tests that random output fails with negligible probability.

/** Words that mark an example value; none can appear in hex, and a 64-character random base64url key holds one with p < 1e-8. */
const PLACEHOLDERS = ['changeme', 'change-me', 'change_me', 'replace', 'example', 'placeholder', 'secret', 'password', 'insecure', 'default', 'dummy'];

/**
 * Bits of an estimate that counts only the characters' frequencies (length × Shannon entropy): a
 * repeated character scores 0. 32 random hex characters score at least 91 in 200,000 draws.
 */
const MIN_FREQUENCY_BITS = 64;

function frequencyBits(key: string): number {
  const counts = new Map<string, number>();
  for (const ch of key) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= n * Math.log2(n / key.length);
  return bits;
}

/** The shortest p such that the key is a prefix of its first p characters repeated (the key's period). */
function period(key: string): number {
  for (let p = 1; p <= key.length / 2; p++) {
    let repeats = true;
    for (let i = p; i < key.length && repeats; i++) repeats = key[i] === key[i - p];
    if (repeats) return p;
  }
  return key.length;
}

/** Neighbours one code point apart (abc, 321); random hex has about one in eight. */
function sequentialShare(key: string): number {
  let steps = 0;
  for (let i = 1; i < key.length; i++) if (Math.abs(key.charCodeAt(i) - key.charCodeAt(i - 1)) === 1) steps++;
  return steps / (key.length - 1);
}

/** Why `key` does not look random, or undefined when it does. */
export function findWeakness(key: string): string | undefined {
  const lower = key.toLowerCase();
  const word = PLACEHOLDERS.find((w) => lower.includes(w));
  if (word) return `contains "${word}", a placeholder`;
  // The messages never quote the key: they reach logs.
  const p = period(key);
  if (p === 1) return 'is one character repeated';
  if (p <= key.length / 2) return `repeats a pattern of ${p} characters`;
  if (sequentialShare(key) > 0.5) return 'is mostly a run of consecutive characters';
  if (frequencyBits(key) < MIN_FREQUENCY_BITS) return 'has too few distinct characters';
  return undefined;
}
