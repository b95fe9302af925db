// Externally owned accounts, by EIP-191 recovery, with no network: the check the contract-wallet verifier
// (contract-verifier.ts) runs first, and a SignatureVerifier of its own for tests that need no chain.
import { AppError } from '../errors.ts';
import type { SignatureVerifier } from './ports.ts';
import type { Recover } from './recover.ts';

/** Throws `bad_signature` unless `address` (an EOA) signed `message`. */
export function checkEoaSignature(recover: Recover, message: string, signature: string, address: string): void {
  const signer = recover(message, signature);
  if (signer === undefined || signer !== address) {
    throw new AppError('bad_signature', 'the signature was not made by the address in the message');
  }
}

/** A verifier for EOAs alone: what recovery does not prove is refused, never sent to a chain. */
export function createEoaVerifier(recover: Recover): SignatureVerifier {
  return {
    checkLocally({ message, signature, address }) {
      checkEoaSignature(recover, message, signature, address);
      return { walletType: 'eoa' };
    },
    async checkOnChain() {
      throw new AppError('bad_signature', 'the signature was not made by the address in the message');
    },
  };
}
