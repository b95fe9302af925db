// EIP-191 personal_sign recovery: libsecp256k1 through the `secp256k1` prebuilt binding when it
// loads (~0.09 ms), otherwise ethers' pure-JS implementation (~2 ms). Both give the same answer.
import { createRequire } from 'node:module';
import { getAddress, hashMessage, keccak256, Signature, verifyMessage } from 'ethers';

export type Recover = (message: string, signature: string) => string | undefined;

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}

/** The binding alone, never the package's own fallback to `elliptic`: ethers is our fallback. */
function loadNative(): NativeSecp256k1 | undefined {
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

const native = loadNative();

/** Which implementation this process uses, for the logs and the benchmark. */
export const RECOVERY_IMPLEMENTATION: 'libsecp256k1' | 'ethers' = native ? 'libsecp256k1' : 'ethers';

export const recoverSigner: Recover = native ? createNativeRecover(native) : recoverWithEthers;

export { loadNative };
