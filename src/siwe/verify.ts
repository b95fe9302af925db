// Checks a signed EIP-4361 message: time window and bindings, then who signed it.
import { AppError } from '../errors.ts';
import type { SiweFields } from './message.ts';
import { recoverSigner } from './recover.ts';

export interface Expectations {
  /** Verification time. */
  now: Date;
  domain?: string;
  nonce?: string;
  scheme?: string;
}

/** Throws the reason code for the first binding the message breaks (EIP-4361 §"Verifying a signed message"). */
export function checkBindings(f: SiweFields, expect: Expectations): void {
  const now = expect.now.getTime();
  if (f.expirationTime !== undefined && now >= Date.parse(f.expirationTime)) {
    throw new AppError('expired', 'the message has expired; ask for a new challenge');
  }
  if (f.notBefore !== undefined && now < Date.parse(f.notBefore)) {
    throw new AppError('expired', 'the message is not valid yet');
  }
  if (expect.domain !== undefined && f.domain !== expect.domain) {
    throw new AppError('domain_mismatch', `the message is for ${f.domain}, not ${expect.domain}`);
  }
  if (expect.scheme !== undefined && (f.scheme ?? 'https') !== expect.scheme) {
    throw new AppError('domain_mismatch', 'the message names another scheme');
  }
  if (expect.nonce !== undefined && f.nonce !== expect.nonce) {
    throw new AppError('message_mismatch', 'the message carries another nonce');
  }
}

// The signer's checksummed address by EIP-191 personal_sign recovery, or undefined if malformed.
export { recoverSigner };

/** Throws `bad_signature` unless `address` (an EOA) signed `message`. */
export function checkEoaSignature(message: string, signature: string, address: string): void {
  const signer = recoverSigner(message, signature);
  if (signer === undefined || signer !== address) {
    throw new AppError('bad_signature', 'the signature was not made by the address in the message');
  }
}
