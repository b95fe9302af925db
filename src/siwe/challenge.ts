// The SIWE login step: issue a challenge bound to an interaction, then verify its signed answer.
// Knows nothing of Koa or oidc-provider (docs/architecture.md: http → oidc → siwe; db implements the ports).
import { getAddress } from 'ethers';
import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { buildSiweMessage } from './message.ts';
import { generateNonce } from './nonce.ts';
import type { NonceStore, SignatureVerifier, WalletType } from './ports.ts';

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

export interface SiweService {
  issueChallenge(req: ChallengeRequest): Promise<Challenge>;
  verifyLogin(input: { interactionUid: string; message: string; signature: string }): Promise<VerifiedLogin>;
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

/** EIP-4361 timestamps: RFC 3339 in UTC with milliseconds, as Date#toISOString gives. */
const rfc3339 = (d: Date) => d.toISOString();

export function createSiweService(opts: SiweServiceOptions): SiweService {
  const allowed = new Set(opts.allowedChains);
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

    async verifyLogin({ interactionUid, message, signature }) {
      // The nonce names the issued challenge. The text is not parsed again: it must equal, byte for
      // byte, a message we built and validated ourselves, so its domain, URI, chain and times are ours.
      const nonce = message.match(NONCE_LINE)?.[1];
      if (!nonce) throw new AppError('invalid_message', 'not an EIP-4361 message with a Nonce line');
      const now = opts.clock();
      // Consume the nonce before any signature work: the first request wins, every replay and
      // every concurrent copy loses, and a failed attempt burns the challenge.
      const consumed = await opts.nonces.consume(nonce, interactionUid, now);
      if (consumed.status === 'unknown') throw new AppError('nonce_unknown', 'this challenge was not issued for this login');
      if (consumed.status === 'used') throw new AppError('nonce_used', 'this challenge was already used; ask for a new one');
      const { issued } = consumed;
      if (message !== issued.message) throw new AppError('message_mismatch', 'the message differs from the one issued');
      // The issued message's Expiration Time (EIP-4361 §"Verifying a signed message").
      if (now >= issued.expiresAt) throw new AppError('expired', 'the challenge has expired; ask for a new one');
      const { walletType } = await opts.verifier.verify({ message, signature, address: issued.address, chainId: issued.chainId });
      return { address: issued.address, chainId: issued.chainId, walletType, clientId: issued.clientId };
    },
  };
}
