// What the SIWE step needs from outside: storage for issued challenges, and a way to check signatures.
// Implemented in db/nonces.ts (Postgres, PGlite), memory/ (tests, benchmark) and eoa-verifier.ts.

/**
 * How the account behind an address proved its signature: `eoa`, its own key (ECDSA recovery, the same on every chain);
 * `contract`, a contract wallet's code on the message's chain (EIP-1271, or EIP-6492 before it is deployed).
 */
export type WalletType = 'eoa' | 'contract';

export interface IssuedNonce {
  nonce: string;
  interactionUid: string;
  clientId: string;
  address: string;
  chainId: number;
  message: string;
  issuedAt: Date;
  expiresAt: Date;
}

export type ConsumeResult = { status: 'consumed'; issued: IssuedNonce } | { status: 'used' } | { status: 'unknown' };

export interface NonceStore {
  /** Stores the nonce unless its interaction already has `limit` challenges; returns whether it was stored. */
  insert(issued: IssuedNonce, limit: number): Promise<boolean>;
  /** Atomically marks the nonce used: of any number of concurrent calls, exactly one gets `consumed`. */
  consume(nonce: string, interactionUid: string, now: Date): Promise<ConsumeResult>;
}

export interface SignatureCheck {
  /** The exact EIP-4361 text that was signed (EIP-191 personal_sign). */
  message: string;
  /** 0x-prefixed hex: 65 bytes, 64 (EIP-2098 compact), or longer from contract wallets. */
  signature: string;
  /** The checksummed address the challenge was issued to. */
  address: string;
  chainId: number;
}

/**
 * Decides whether `address` signed `message`. Resolves with how it was proved; rejects with an
 * AppError: `bad_signature` when it was not, `verifier_unavailable` when the verifier could not ask.
 */
export interface SignatureVerifier {
  verify(check: SignatureCheck): Promise<{ walletType: WalletType }>;
}
