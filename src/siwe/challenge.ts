// The SIWE login step: issue a challenge bound to an interaction, then verify its signed answer.
// Knows nothing of Koa or oidc-provider (docs/architecture.md: http → oidc → siwe; db implements the ports).
import { getAddress } from 'ethers';
import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { buildSiweMessage, messageAddress } from './message.ts';
import { generateNonce } from './nonce.ts';
import type { NonceStore, SignatureCheck, SignatureVerifier, WalletType } from './ports.ts';

/** Bounds the rows one interaction can create; a person needs one, or a few after switching accounts. */
export const MAX_CHALLENGES_PER_INTERACTION = 20;

export interface ChallengeRequest {
  interactionUid: string;
  clientId: string;
  clientName: string | undefined;
  redirectUri: string;
  address: string;
  chainId: number;
}

export interface Challenge {
  message: string;
  nonce: string;
  expiresAt: Date;
}

export interface VerifiedLogin {
  address: string;
  chainId: number;
  walletType: WalletType;
  clientId: string;
}

/** What proveSignature learnt before the login's transaction: the check it made and its answer. */
export type SignatureProof = { check: SignatureCheck } & ({ walletType: WalletType } | { refusal: AppError });

export interface SiweService {
  issueChallenge(req: ChallengeRequest): Promise<Challenge>;
  /**
   * Before the login's transaction: checks the signature of a message against the address and chain it names, asking
   * the chain only when no local check can tell, and only for a challenge still pending for this login (replays and
   * forged nonces cost no RPC call). Undefined when there is nothing to prove yet (verifyLogin refuses the message).
   * Rejects only when the chain could not be asked (`verifier_unavailable`): nothing is used up then.
   */
  proveSignature(input: { interactionUid: string; message: string; signature: string }): Promise<SignatureProof | undefined>;
  /** Inside the login's transaction: consumes the nonce, checks the message, then the signature (with `proof` when given). */
  verifyLogin(input: { interactionUid: string; message: string; signature: string; proof?: SignatureProof | undefined }): Promise<VerifiedLogin>;
}

export interface SiweServiceOptions {
  nonces: NonceStore;
  verifier: SignatureVerifier;
  clock: Clock;
  issuer: URL;
  allowedChains: readonly number[];
  ttlSeconds: number;
  /** The operator's extra statement text (BRAND_STATEMENT), appended to every message. */
  extraStatement?: string | undefined;
}

/** A statement EIP-4361 allows (no line break, a restricted character set) that names the client. */
export function buildStatement(clientName: string | undefined, clientId: string, extra?: string): string {
  const safe = (value: string) =>
    value
      .replace(/[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
  const statement = `Sign in to ${safe(clientName ?? '').slice(0, 80) || safe(clientId)}.`;
  return extra ? `${statement} ${safe(extra)}` : statement;
}

/** EIP-4361: `Nonce: ` followed by 8 or more alphanumerics, on a line of its own. */
const NONCE_LINE = /\nNonce: ([A-Za-z0-9]{8,})\n/;

/** The address (EIP-4361's second line) and chain id a message names, read without parsing the rest. */
function claimedSigner(message: string): { address: string; chainId: number } | undefined {
  const address = messageAddress(message);
  const chainId = message.match(/\nChain ID: ([1-9]\d{0,15})\n/)?.[1];
  if (!address || !chainId) return undefined;
  return { address, chainId: Number(chainId) };
}

const sameCheck = (a: SignatureCheck, b: SignatureCheck) =>
  a.message === b.message && a.signature === b.signature && a.address === b.address && a.chainId === b.chainId;

/** EIP-4361 timestamps: RFC 3339 in UTC with milliseconds, as Date#toISOString gives. */
const rfc3339 = (d: Date) => d.toISOString();

export function createSiweService(opts: SiweServiceOptions): SiweService {
  const allowed = new Set(opts.allowedChains);
  /** Chain checks under way, by interaction, nonce and signature (askOnce). */
  const inFlight = new Map<string, Promise<{ walletType: WalletType }>>();
  // EIP-4361 `domain` is the issuer's host with its port (siwe-oidc #91, #36).
  const domain = opts.issuer.host;
  const uri = opts.issuer.origin;

  return {
    async issueChallenge(req) {
      if (!allowed.has(req.chainId)) {
        throw new AppError('chain_not_allowed', `chain ${req.chainId} is not allowed here; use one of ${[...allowed].join(', ')}`);
      }
      let address: string;
      try {
        address = getAddress(req.address);
      } catch {
        throw new AppError('address_invalid', 'address is not an Ethereum address');
      }
      const issuedAt = opts.clock();
      const expiresAt = new Date(issuedAt.getTime() + opts.ttlSeconds * 1000);
      const nonce = generateNonce();
      const message = buildSiweMessage({
        domain,
        address,
        statement: buildStatement(req.clientName, req.clientId, opts.extraStatement),
        uri,
        version: '1',
        chainId: req.chainId,
        nonce,
        issuedAt: rfc3339(issuedAt),
        expirationTime: rfc3339(expiresAt),
        requestId: req.interactionUid,
        resources: [req.redirectUri],
      });
      const stored = await opts.nonces.insert(
        { nonce, interactionUid: req.interactionUid, clientId: req.clientId, address, chainId: req.chainId, message, issuedAt, expiresAt },
        MAX_CHALLENGES_PER_INTERACTION,
      );
      if (!stored) throw new AppError('too_many_challenges', 'too many challenges for this login; start again from the application');
      return { message, nonce, expiresAt };
    },

    async proveSignature({ interactionUid, message, signature }) {
      const claimed = claimedSigner(message);
      const nonce = message.match(NONCE_LINE)?.[1];
      if (!claimed || !nonce) return undefined;
      const check: SignatureCheck = { message, signature, ...claimed };
      try {
        const local = opts.verifier.checkLocally(check);
        if (local) return { check, walletType: local.walletType };
      } catch (err) {
        if (err instanceof AppError) return { check, refusal: err };
        throw err;
      }
      // Only the chain can tell. Ask it for a challenge this login can still use, exactly as it was issued, and never
      // inside the transaction: no pooled connection or row lock waits on the network.
      const issued = await opts.nonces.pending(nonce, interactionUid);
      if (!issued || issued.message !== message || opts.clock() >= issued.expiresAt) return undefined;
      try {
        return { check, walletType: (await askOnce(`${interactionUid}\n${nonce}\n${signature}`, check)).walletType };
      } catch (err) {
        // A chain that could not be asked is not the attempt's fault: nothing is consumed, the same message can come again.
        if (err instanceof AppError && err.status < 500) return { check, refusal: err };
        throw err;
      }
    },

    async verifyLogin({ interactionUid, message, signature, proof }) {
      // The nonce names the issued challenge. The text is not parsed again: it must equal, byte for
      // byte, a message we built and validated ourselves, so its domain, URI, chain and times are ours.
      const nonce = message.match(NONCE_LINE)?.[1];
      if (!nonce) throw new AppError('invalid_message', 'not an EIP-4361 message with a Nonce line');
      const now = opts.clock();
      // Consume the nonce before the signature counts: the first request wins, every replay and
      // every concurrent copy loses, and a failed attempt burns the challenge.
      const consumed = await opts.nonces.consume(nonce, interactionUid, now);
      if (consumed.status === 'unknown') throw new AppError('nonce_unknown', 'this challenge was not issued for this login');
      if (consumed.status === 'used') throw new AppError('nonce_used', 'this challenge was already used; ask for a new one');
      const { issued } = consumed;
      if (message !== issued.message) throw new AppError('message_mismatch', 'the message differs from the one issued');
      // The issued message's Expiration Time (EIP-4361 §"Verifying a signed message").
      if (now >= issued.expiresAt) throw new AppError('expired', 'the challenge has expired; ask for a new one');
      const check: SignatureCheck = { message, signature, address: issued.address, chainId: issued.chainId };
      const walletType = await decide(check, proof);
      return { address: issued.address, chainId: issued.chainId, walletType, clientId: issued.clientId };
    },
  };

  /**
   * Concurrent copies of one signed answer share one question to the chain (in this process): a burst of copies of a
   * pending challenge costs one RPC check, not one each. The entry goes as soon as the answer comes.
   */
  function askOnce(key: string, check: SignatureCheck): Promise<{ walletType: WalletType }> {
    let asked = inFlight.get(key);
    if (!asked) {
      asked = opts.verifier.checkOnChain(check).finally(() => inFlight.delete(key));
      inFlight.set(key, asked);
    }
    return asked;
  }

  /** The signature's verdict: the proof made before the transaction when it checked exactly this, else the local check. */
  async function decide(check: SignatureCheck, proof: SignatureProof | undefined): Promise<WalletType> {
    if (proof && sameCheck(proof.check, check)) {
      if ('refusal' in proof) throw proof.refusal;
      return proof.walletType;
    }
    const local = opts.verifier.checkLocally(check);
    if (local) return local.walletType;
    // Only the chain could tell, and it was not asked for this exact check (proveSignature first): never assume.
    throw new AppError('bad_signature', 'the signature could not be checked for this challenge; sign a new one');
  }
}
