// What the HTTP layer needs from outside: the audit trail of login attempts, rate limits, and logins handed to another device.
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LoginEvent } from '../observer.ts';

/** Which login events to read back (the admin CLI's `events`): every given field must match. */
export interface LoginEventFilter {
  outcome?: LoginEvent['outcome'] | undefined;
  reason?: string | undefined;
  /** Matched in any letter case: refused logins store the address as it was sent. */
  address?: string | undefined;
  clientId?: string | undefined;
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  limit: number;
}

export interface LoginEventStore {
  record(event: LoginEvent): Promise<void>;
  /** The matching events, newest first. */
  list(filter: LoginEventFilter): Promise<LoginEvent[]>;
}

/** One limit: at most `limit` counted requests per key in a window; `0` turns it off. */
export interface RateRule {
  /** Separates the rules' counters (the key's prefix). */
  name: string;
  limit: number;
  windowSeconds: number;
  /** Once over the limit, the key stays refused this long (a lockout) instead of until the window ends. */
  blockSeconds?: number;
}

/**
 * The answer for one request: `allowed`, or how long to wait. `first` marks the first refusal of a
 * key in its window (across instances), the one worth an audit row.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; first: boolean };

export interface RateLimiter {
  /** Counts one request for `key` under `rule` and refuses it once the key is over the limit. */
  hit(rule: RateRule, key: string): Promise<RateDecision>;
  /** Whether `key` is refused under `rule` now; counts nothing (a lockout checked before the work). */
  check(rule: RateRule, key: string): Promise<RateDecision>;
}

/**
 * Where the counters live: rate-limiter-flexible's limiter for one rule over a store. Postgres
 * (db/rate-limits.ts) is shared by every instance; memory (http/rate-limit.ts) is per process.
 */
export type RateCounters = (rule: RateRule) => RateLimiterAbstract;

/**
 * A login page's link for signing on another device (http/handoffs.ts). Stored by the SHA-256 of the link's secret;
 * the device that claimed it by the SHA-256 of its cookie. One per interaction: a new one replaces the old.
 */
export interface Handoff {
  /** SHA-256 of the link's secret, hex. */
  id: string;
  interactionUid: string;
  /** The confirmation code both screens show. */
  code: string;
  createdAt: Date;
  /** Until when a device can claim it (HANDOFF_TTL). */
  claimUntil: Date;
  /** When the interaction it continues has ended, and the row can go. */
  expiresAt: Date;
  /** SHA-256 of the claiming device's cookie, hex; undefined until a device asks for a message to sign. */
  device: string | undefined;
  signedAt: Date | undefined;
}

export interface HandoffStore {
  /** Stores the interaction's handoff, replacing any earlier one (whose link then leads nowhere). */
  create(handoff: Omit<Handoff, 'device' | 'signedAt'>): Promise<void>;
  find(id: string): Promise<Handoff | undefined>;
  findByInteraction(interactionUid: string): Promise<Handoff | undefined>;
  /** Binds an unclaimed handoff, before its claimUntil, to `device`: of any number of concurrent claims, exactly one gets true. */
  claim(id: string, device: string, now: Date): Promise<boolean>;
  /** Marks the handoff signed by its device, inside the login's transaction: true exactly once. */
  markSigned(id: string, device: string, now: Date): Promise<boolean>;
  /**
   * Marks the interaction's handoff, if it has one, used by the desktop signing by itself, inside that login's
   * transaction: false when a device signed through it first (the same row lock orders the two).
   */
  markSignedHere(interactionUid: string, now: Date): Promise<boolean>;
}
