// Seals secrets at rest (client secrets, private signing keys) with AES-256-GCM under ENCRYPTION_KEY; opens values
// sealed under ENCRYPTION_KEY or one of the previous keys (ENCRYPTION_KEY_PREVIOUS), so the key can be rotated.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { WrongKeyError } from '../errors.ts';

export interface SecretBox {
  /** A short id of the current key, stored beside each sealed value so a wrong key is named, not guessed. */
  readonly keyId: string;
  /** The ids of the keys accepted for opening only, in the order given. */
  readonly previousKeyIds: readonly string[];
  /** Seals under the current key, always. */
  seal(plaintext: string): string;
  /** Opens a value sealed under the current key or a previous one; WrongKeyError under any other. */
  open(sealed: string): string;
  /** The key id a sealed value names (without opening it). */
  keyIdOf(sealed: string): string;
}

/** The id a key is known by: the first 8 hex digits of its SHA-256 (names the key without revealing it). */
export const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

function parse(sealed: string): { kid: string; iv: string; tag: string; ct: string } {
  const [version, kid, iv, tag, ct] = sealed.split('.');
  if (version !== 'v1' || !kid || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
  return { kid, iv, tag, ct };
}

export function createSecretBox(key: Buffer, previous: readonly Buffer[] = []): SecretBox {
  for (const k of [key, ...previous]) if (k.length !== 32) throw new TypeError('the encryption key must be 32 bytes');
  const keyId = keyIdOf(key);
  // The current key first: a previous key equal to it changes nothing.
  const keys = new Map<string, Buffer>([[keyId, key]]);
  for (const k of previous) if (!keys.has(keyIdOf(k))) keys.set(keyIdOf(k), k);
  const previousKeyIds = [...keys.keys()].slice(1);
  return {
    keyId,
    previousKeyIds,
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed) {
      const { kid, iv, tag, ct } = parse(sealed);
      const k = keys.get(kid);
      if (!k) throw new WrongKeyError(kid, keyId, previousKeyIds);
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
    keyIdOf: (sealed) => parse(sealed).kid,
  };
}
