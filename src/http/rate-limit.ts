// Rate limits: the RateLimiter over rate-limiter-flexible's counters (in Postgres from db/rate-limits.ts,
// or in process memory here), keys bounded for storage, and the middleware that applies a rule per client IP.
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../errors.ts';
import type { RateCounters, RateDecision, RateLimiter, RateRule } from './ports.ts';

/** A refusal by a rate limit: `rate_limited`, how long to wait, and whether it is the first of its key's window. */
export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;
  readonly first: boolean;
  /** The name of the rule that refused. */
  readonly rule: string;

  constructor(decision: Extract<RateDecision, { allowed: false }>, rule: RateRule, description = 'too many requests') {
    super('rate_limited', `${description}; try again in ${decision.retryAfterSeconds} s`);
    this.retryAfterSeconds = decision.retryAfterSeconds;
    this.first = decision.first;
    this.rule = rule.name;
  }
}

/** Counters in this process only: for the in-memory stores (tests, the benchmark's ceiling). */
export const memoryRateCounters: RateCounters = (rule) =>
  new RateLimiterMemory({ keyPrefix: rule.name, points: rule.limit, duration: rule.windowSeconds, blockDuration: rule.blockSeconds ?? 0 });

/**
 * A key fit for storage: printable ASCII up to 128 characters as it is, anything else (a client id with
 * a NUL byte, a megabyte of header) by its SHA-256. Keys come from requests, so they are never trusted.
 */
export function rateKey(value: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(value) ? value : `sha256:${createHash('sha256').update(value).digest('base64url')}`;
}

const refusal = (res: RateLimiterRes, limit: number): RateDecision => ({
  allowed: false,
  retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  // A store that refuses from its in-process block reports no points: not the first refusal either.
  first: res.consumedPoints === limit + 1,
});

/** The RateLimiter over `counters`, one library limiter per rule. A rule with limit 0 allows everything. */
export function createRateLimiter(counters: RateCounters): RateLimiter {
  const limiters = new Map<string, RateLimiterAbstract>();
  const limiterFor = (rule: RateRule) => {
    const id = `${rule.name}/${rule.limit}/${rule.windowSeconds}/${rule.blockSeconds ?? 0}`;
    let limiter = limiters.get(id);
    if (!limiter) limiters.set(id, (limiter = counters(rule)));
    return limiter;
  };
  return {
    async hit(rule, key) {
      if (rule.limit <= 0) return { allowed: true };
      try {
        await limiterFor(rule).consume(rateKey(key));
        return { allowed: true };
      } catch (err) {
        // The library rejects with its result when the key is over the limit, with an Error when the store failed.
        if (err instanceof RateLimiterRes) return refusal(err, rule.limit);
        throw err;
      }
    },
    async check(rule, key) {
      if (rule.limit <= 0) return { allowed: true };
      const res = await limiterFor(rule).get(rateKey(key));
      // The memory store keeps an expired key until its timer fires: past msBeforeNext it no longer counts.
      if (!res || res.consumedPoints <= rule.limit || res.msBeforeNext <= 0) return { allowed: true };
      return { ...refusal(res, rule.limit), first: false };
    },
  };
}

/**
 * Refuses a request over `rule` for its client IP with 429 `rate_limited` and Retry-After. ctx.ip is
 * the socket's address, or with TRUST_PROXY the address the trusted proxies saw (http/app.ts).
 */
export function rateLimit(limiter: RateLimiter, rule: RateRule): Middleware {
  return async (ctx, next) => {
    const decision = await limiter.hit(rule, ctx.ip);
    if (!decision.allowed) {
      ctx.set('Retry-After', String(decision.retryAfterSeconds));
      throw new RateLimitedError(decision, rule, 'too many requests from this address');
    }
    await next();
  };
}
