// The RateLimiter (src/http/rate-limit.ts) over in-memory counters. rate-limiter-flexible reads
// Date.now() itself, so time is moved with node:test's mock timers (Date only).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createRateLimiter, memoryRateCounters, rateKey } from '../../src/http/rate-limit.ts';

describe('createRateLimiter', () => {
  const rule = { name: 'test', limit: 3, windowSeconds: 60 };
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 0, 1, 10, 0, 15) }));
  afterEach(() => mock.timers.reset());

  it('allows `limit` hits per window, then says how long until the window ends, and marks only the first refusal', async () => {
    const limiter = createRateLimiter(memoryRateCounters);
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.hit(rule, 'ip:a'), { allowed: true });
    assert.deepEqual(await limiter.hit(rule, 'ip:a'), { allowed: false, retryAfterSeconds: 60, first: true });
    mock.timers.tick(44_500);
    assert.deepEqual(await limiter.hit(rule, 'ip:a'), { allowed: false, retryAfterSeconds: 16, first: false });
    mock.timers.tick(15_500);
    assert.deepEqual(await limiter.hit(rule, 'ip:a'), { allowed: true }, 'a new window starts once the old one ended');
  });

  it('counts each key and each rule on its own, and a limit of 0 allows everything', async () => {
    const limiter = createRateLimiter(memoryRateCounters);
    for (let i = 0; i < 3; i++) await limiter.hit(rule, 'ip:a');
    assert.equal((await limiter.hit(rule, 'ip:a')).allowed, false);
    assert.equal((await limiter.hit(rule, 'ip:b')).allowed, true);
    assert.equal((await limiter.hit({ ...rule, name: 'other' }, 'ip:a')).allowed, true);
    for (let i = 0; i < 10; i++) assert.equal((await limiter.hit({ ...rule, limit: 0 }, 'ip:a')).allowed, true);
  });

  it('checks without counting, and keeps a key over a blocking rule refused for the whole block', async () => {
    const lockout = { name: 'lockout', limit: 2, windowSeconds: 60, blockSeconds: 600 };
    const limiter = createRateLimiter(memoryRateCounters);
    for (let i = 0; i < 5; i++) assert.deepEqual(await limiter.check(lockout, 'client'), { allowed: true }, 'check counts nothing');
    for (let i = 0; i < 3; i++) await limiter.hit(lockout, 'client');
    assert.deepEqual(await limiter.check(lockout, 'client'), { allowed: false, retryAfterSeconds: 600, first: false });
    mock.timers.tick(599_000);
    assert.equal((await limiter.check(lockout, 'client')).allowed, false, 'still locked after the window, until the block ends');
    mock.timers.tick(1_000);
    assert.deepEqual(await limiter.check(lockout, 'client'), { allowed: true });
  });
});

describe('rateKey', () => {
  it('keeps short printable keys and hashes anything else', () => {
    assert.equal(rateKey('203.0.113.7'), '203.0.113.7');
    assert.match(rateKey('a\u0000b'), /^sha256:[\w-]{43}$/);
    assert.match(rateKey('x'.repeat(129)), /^sha256:/);
    assert.notEqual(rateKey('x'.repeat(129)), rateKey('x'.repeat(130)));
  });
});
