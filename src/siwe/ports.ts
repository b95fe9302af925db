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
  /** The nonce as issued, when it was issued for this interaction and is not used yet (a read: it stays unused). */
  pending(nonce: string, interactionUid: string): Promise<IssuedNonce | undefined>;
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
 * Decides whether `address` signed `message`, in two steps so that no database transaction waits on the network:
 * `checkLocally` (no network, called inside the login's transaction) and, only when it cannot tell, `checkOnChain`
 * (called before that transaction, for a challenge still pending). Refusals are AppErrors: `bad_signature` when the
 * signature is not the address's, `contract_wallet_unsupported` when only a chain could tell and this one has no RPC,
 * `verifier_unavailable` (503) when the chain could not be asked.
 */
export interface SignatureVerifier {
  /** The wallet type when the address's own key signed, undefined when only its chain can tell; throws a refusal. */
  checkLocally(check: SignatureCheck): { walletType: WalletType } | undefined;
  /** Asks the message's chain (EIP-1271, EIP-6492): resolves with the wallet type, or rejects with a refusal. */
  checkOnChain(check: SignatureCheck): Promise<{ walletType: WalletType }>;
}
