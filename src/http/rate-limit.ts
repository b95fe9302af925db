// Rate limits: the in-process RateLimiter (fixed windows, bounded memory), and the middleware that
// applies a rule per client IP. A limiter shared across instances implements the same port (ports.ts).
import { LRUCache } from 'lru-cache';
import type { Middleware } from 'koa';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { RateLimiter } from './ports.ts';

export interface RateRule {
  /** Requests allowed per window; 0 turns the limit off. */
  limit: number;
  windowSeconds: number;
}

/** Counts per key in fixed windows. Holds at most `maxKeys` keys: the least recently seen are forgotten first. */
export function createMemoryRateLimiter(clock: Clock, maxKeys = 100_000): RateLimiter {
  const windows = new LRUCache<string, { start: number; count: number }>({ max: maxKeys });
  return {
    async hit(key, { limit, windowSeconds }) {
      const now = clock().getTime();
      const size = windowSeconds * 1000;
      const start = now - (now % size);
      const window = windows.get(key);
      const current = window && window.start === start ? window : { start, count: 0 };
      current.count += 1;
      windows.set(key, current);
      if (current.count <= limit) return { allowed: true };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((start + size - now) / 1000)) };
    },
  };
}

/**
 * Refuses a request over `rule` for its client IP with 429 `rate_limited` and Retry-After.
 * `name` separates rules that share a limiter (each counts its own requests).
 */
export function rateLimit(limiter: RateLimiter, name: string, rule: RateRule): Middleware {
  return async (ctx, next) => {
    if (rule.limit > 0) {
      const decision = await limiter.hit(`${name}:${ctx.ip}`, rule);
      if (!decision.allowed) {
        ctx.set('Retry-After', String(decision.retryAfterSeconds));
        throw new AppError('rate_limited', `too many requests; try again in ${decision.retryAfterSeconds} s`);
      }
    }
    await next();
  };
}
