// EIP-191 personal_sign recovery: libsecp256k1 through the `secp256k1` prebuilt binding when it
// loads (~0.09 ms), otherwise ethers' pure-JS implementation (~2 ms). Both give the same answer.
// Nothing is chosen at import: createContext calls chooseRecover() once.
import { createRequire } from 'node:module';
import { getAddress, hashMessage, keccak256, Signature, verifyMessage } from 'ethers';

/** The signer's checksummed address, or undefined when the signature is malformed. */
export type Recover = (message: string, signature: string) => string | undefined;

export type RecoveryImplementation = 'libsecp256k1' | 'ethers';

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}

/** The binding alone, never the package's own fallback to `elliptic`: ethers is our fallback. */
export function loadNative(): NativeSecp256k1 | undefined {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings.js') as NativeSecp256k1;
  } catch {
    return undefined;
  }
}

export const recoverWithEthers: Recover = (message, signature) => {
  try {
    return verifyMessage(message, signature);
  } catch {
    return undefined;
  }
};

export function createNativeRecover(native: NativeSecp256k1): Recover {
  return (message, signature) => {
    try {
      // Signature.from accepts what wallets send: 65 bytes with v 27/28 or 0/1, and EIP-2098 compact 64 bytes.
      const sig = Signature.from(signature);
      const rs = Buffer.from(sig.r.slice(2) + sig.s.slice(2), 'hex');
      const digest = Buffer.from(hashMessage(message).slice(2), 'hex');
      const publicKey = native.ecdsaRecover(rs, sig.yParity, digest, false);
      return getAddress(`0x${keccak256(publicKey.subarray(1)).slice(-40)}`);
    } catch {
      return undefined;
    }
  };
}

/** The fastest implementation this process can load, and its name for the logs and the benchmark. */
export function chooseRecover(): { recover: Recover; implementation: RecoveryImplementation } {
  const native = loadNative();
  return native ? { recover: createNativeRecover(native), implementation: 'libsecp256k1' } : { recover: recoverWithEthers, implementation: 'ethers' };
}
