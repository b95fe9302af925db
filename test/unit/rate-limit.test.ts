// The in-process RateLimiter (src/http/rate-limit.ts): fixed windows on an injected clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRateLimiter } from '../../src/http/rate-limit.ts';

describe('createMemoryRateLimiter', () => {
  const rule = { limit: 3, windowSeconds: 60 };

  it('allows `limit` hits per window, then says how long until the window ends', async () => {
    let now = Date.UTC(2026, 0, 1, 10, 0, 15);
    const limiter = createMemoryRateLimiter(() => new Date(now));
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.hit('ip:a', rule), { allowed: true });
    assert.deepEqual(await limiter.hit('ip:a', rule), { allowed: false, retryAfterSeconds: 45 });
    now += 44_500;
    assert.deepEqual(await limiter.hit('ip:a', rule), { allowed: false, retryAfterSeconds: 1 });
    now += 500;
    assert.deepEqual(await limiter.hit('ip:a', rule), { allowed: true }, 'a new window starts on the minute');
  });

  it('counts each key on its own', async () => {
    const limiter = createMemoryRateLimiter(() => new Date(0));
    for (let i = 0; i < 3; i++) await limiter.hit('ip:a', rule);
    assert.equal((await limiter.hit('ip:a', rule)).allowed, false);
    assert.equal((await limiter.hit('ip:b', rule)).allowed, true);
  });

  it('forgets the least recently seen keys beyond its bound, so memory stays bounded', async () => {
    const limiter = createMemoryRateLimiter(() => new Date(0), 2);
    for (let i = 0; i < 4; i++) await limiter.hit('ip:a', rule);
    await limiter.hit('ip:b', rule);
    await limiter.hit('ip:c', rule);
    assert.equal((await limiter.hit('ip:a', rule)).allowed, true, 'ip:a was evicted and starts again');
  });
});
