// What the HTTP layer needs from outside: the audit trail of login attempts, and rate limits.
import type { LoginEvent } from '../observer.ts';

export interface LoginEventStore {
  record(event: LoginEvent): Promise<void>;
}

/** The answer for one request: `allowed`, or how long to wait before the next one is. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts requests per key in fixed windows. In memory per process today (memory/rate-limiter.ts);
 * a limiter shared across instances (Postgres) implements the same port.
 */
export interface RateLimiter {
  hit(key: string, rule: { limit: number; windowSeconds: number }): Promise<RateDecision>;
}
