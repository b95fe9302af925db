// What the HTTP layer needs from outside: the audit trail of login attempts, and rate limits.
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
