// Nonces for EIP-4361 challenges: 128 random bits, alphanumeric as the grammar demands.
import { randomBytes } from 'node:crypto';

/** 32 hex characters = 128 bits from the OS CSPRNG; hex is a subset of EIP-4361's ALPHA / DIGIT. */
export function generateNonce(): string {
  return randomBytes(16).toString('hex');
}
