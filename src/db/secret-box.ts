// Seals secrets at rest (client secrets, private signing keys) with AES-256-GCM under ENCRYPTION_KEY.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { WrongKeyError } from '../errors.ts';

export interface SecretBox {
  /** A short id of the key, stored beside each sealed value so a wrong key is named, not guessed. */
  readonly keyId: string;
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new TypeError('the encryption key must be 32 bytes');
  const keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return {
    keyId,
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, kid, iv, tag, ct] = sealed.split('.');
      if (version !== 'v1' || !kid || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
      if (kid !== keyId) throw new WrongKeyError(kid, keyId);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
