// The first SignatureVerifier: externally owned accounts, by EIP-191 recovery. No network.
// A contract-wallet verifier (EIP-1271/6492 over an RPC) wraps this one and asks the chain only when it refuses.
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

export function createEoaVerifier(recover: Recover): SignatureVerifier {
  return {
    async verify({ message, signature, address }) {
      checkEoaSignature(recover, message, signature, address);
      return { walletType: 'eoa' };
    },
  };
}
