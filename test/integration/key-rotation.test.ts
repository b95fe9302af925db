// Staged signing-key rotation as relying parties live it: logins run on while keys are rotated, activated and
// retired, and RPs that cache the JWKS (as brokers such as LemonLDAP::NG do) never meet a key they could not know.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { runCommand, serverRuntime } from '../../src/cli/commands.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describeEachStore, type TestServer } from '../helpers/server.ts';
import { relyingParty } from '../helpers/raw-rp.ts';

/**
 * Times short enough that moving the clock through a rotation never expires a login in flight (a challenge lives
 * CHALLENGE_TTL on that clock): keys sign 1200 s after `keys rotate`, RPs keep the JWKS 600 s. No rate limit gets
 * in the way of logins in a loop.
 */
const DELAY_S = 1200;
const MAX_AGE_S = 600;
const ENV = {
  KEY_ACTIVATION_DELAY: String(DELAY_S),
  JWKS_MAX_AGE: String(MAX_AGE_S),
  CHALLENGE_TTL: '3600',
  LOGIN_RATE_LIMIT: '0',
  AUTHORIZATION_RATE_LIMIT: '0',
};

/** A clock the test moves: the server's activation times and the caching RP's max-age both read it. */
function movableClock() {
  let offsetMs = 0;
  return { clock: () => new Date(Date.now() + offsetMs), advance: (ms: number) => void (offsetMs += ms) };
}

/** A `keys` command as the admin socket runs it: in the server, which applies the change at once. */
async function keys(server: TestServer, ...args: string[]): Promise<Array<{ kid: string; alg: string; state: string }>> {
  const res = await runCommand(['keys', ...args, '--json'], serverRuntime(server.ctx));
  assert.equal(res.exitCode, 0, res.stderr);
  return JSON.parse(res.stdout);
}

const publishedKids = async (issuer: string) => ((await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet).keys.map((k) => k.kid);

/**
 * An RP that keeps the JWKS as long as Cache-Control's max-age allows, on the test's clock, and refetches only then:
 * an ID token whose kid its copy lacks is a failed login (what LemonLDAP::NG reported as "No key found in JWKS data").
 */
function cachingRp(issuer: string, clock: () => Date) {
  let cached: { jwks: JSONWebKeySet; until: number } | undefined;
  const fetches: number[] = [];
  const jwks = async () => {
    const now = clock().getTime();
    if (!cached || now >= cached.until) {
      const res = await fetch(`${issuer}/jwks`);
      const maxAge = /max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '');
      assert.ok(maxAge, `no max-age in ${res.headers.get('cache-control')}`);
      cached = { jwks: (await res.json()) as JSONWebKeySet, until: now + Number(maxAge[1]) * 1000 };
      fetches.push(now);
    }
    return cached.jwks;
  };
  return {
    fetches,
    /** Verifies an ID token with the cached key set; the kid it was signed with. */
    async verify(idToken: string, audience: string): Promise<string> {
      const { kid } = decodeProtectedHeader(idToken);
      const set = await jwks();
      if (!set.keys.some((k) => k.kid === kid)) throw new Error(`No key found in JWKS data for kid ${kid}`);
      await jwtVerify(idToken, createLocalJWKSet(set), { issuer, audience });
      return kid!;
    },
  };
}

async function setup(start: Parameters<Parameters<typeof describeEachStore>[1]>[0], env: Record<string, string> = {}) {
  const time = movableClock();
  const { server, stop } = await start({ clock: time.clock, env: { ...ENV, ...env } });
  const rp = relyingParty(server);
  const client = await server.addClient();
  const activeKid = async (alg = 'RS256') => (await keys(server, 'list')).find((k) => k.alg === alg && k.state === 'active')!.kid;
  /** One login through the raw RP; its ID token. */
  const login = async (c: StoredClient = client) => (await rp.signIn(c)).tokens.id_token!;

  /**
   * Logins one after another until stopped, each verified by a caching RP: the kid of each, and every failure.
   * `waitFor(n)` waits until n more logins have completed (a signal, not a delay).
   */
  const loginLoop = (cache: ReturnType<typeof cachingRp>) => {
    const kids: string[] = [];
    const failures: unknown[] = [];
    let running = true;
    const waiters: Array<{ count: number; resolve: () => void }> = [];
    const done = (async () => {
      while (running) {
        try {
          kids.push(await cache.verify(await login(), client.client_id));
        } catch (err) {
          failures.push(err);
          kids.push('failed');
        }
        for (const w of waiters.filter((w) => kids.length >= w.count)) w.resolve();
      }
    })();
    return {
      kids,
      failures,
      waitFor: (n: number) => new Promise<void>((resolve) => waiters.push({ count: kids.length + n, resolve })),
      async stop() {
        running = false;
        await done;
      },
    };
  };
  return { server, stop, time, rp, client, activeKid, login, loginLoop };
}

describeEachStore('staged signing-key rotation', (start) => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => (ctx = await setup(start)));
  after(() => ctx.stop());

  it('sends /jwks with a max-age shorter than the activation delay', async () => {
    const res = await fetch(`${ctx.server.issuer}/jwks`);
    assert.equal(res.headers.get('cache-control'), `public, max-age=${MAX_AGE_S}`);
    assert.ok(MAX_AGE_S < ctx.server.config.keys.activationDelaySeconds);
  });

  it('runs logins through a whole rotation without one failure; a caching RP never meets an unknown kid', async () => {
    const { server, time } = ctx;
    const cache = cachingRp(server.issuer, time.clock);
    const old = await ctx.activeKid();
    const loop = ctx.loginLoop(cache);
    try {
      await loop.waitFor(2);

      // rotate: the next keys are published at once, in this running server; the old key still signs.
      const pending = await keys(server, 'rotate');
      const next = pending.find((k) => k.alg === 'RS256')!.kid;
      assert.ok((await publishedKids(server.issuer)).includes(next), 'the pending key is published without a restart');
      const rotatedAt = loop.kids.length;
      await loop.waitFor(2);

      // Most of the delay passes: the RP's copy expires and it fetches the key set with the pending key.
      time.advance((DELAY_S - MAX_AGE_S / 2) * 1000);
      await loop.waitFor(2);
      const lastFetch = cache.fetches.at(-1)!;

      // The delay is over, the RP's copy still fresh (for 200 s more of real time): the activation timer's reload;
      // from now the new key signs.
      time.advance((MAX_AGE_S / 2 + 100) * 1000);
      await server.ctx.keys.reload();
      const activatedAt = loop.kids.length;
      await loop.waitFor(3);
      assert.equal(cache.fetches.at(-1), lastFetch, 'the RP verified the new key with the copy it fetched before the activation');

      // Retire the old key: it leaves the JWKS.
      await keys(server, 'retire', old);
      assert.ok(!(await publishedKids(server.issuer)).includes(old), 'a retired key is no longer published');
      time.advance(MAX_AGE_S * 1000);
      await loop.waitFor(2);
      await loop.stop();

      assert.deepEqual(loop.failures, []);
      assert.ok(
        loop.kids.slice(0, rotatedAt + 2).every((kid) => kid === old),
        `the old key signed until the activation: ${loop.kids.join(' ')}`,
      );
      const firstNew = loop.kids.indexOf(next);
      assert.ok(firstNew >= rotatedAt && firstNew <= activatedAt, `the new key signed from its activation: ${loop.kids.join(' ')}`);
      assert.ok(
        loop.kids.slice(firstNew).every((kid) => kid === next),
        `once active, the new key signed every login: ${loop.kids.join(' ')}`,
      );
    } finally {
      await loop.stop();
    }
  });

  it('fails a caching RP when a new key signs at once (the old behaviour), which the staging prevents', async () => {
    const { server, time } = ctx;
    const cache = cachingRp(server.issuer, time.clock);
    await cache.verify(await ctx.login(), ctx.client.client_id);
    await keys(server, 'rotate');
    await keys(server, 'activate');
    await assert.rejects(cache.verify(await ctx.login(), ctx.client.client_id), /No key found in JWKS data/);
  });

  it('accepts an id_token_hint signed by a previous, still published key at logout, and refuses it once that key is retired', async () => {
    const { server, rp } = ctx;
    const signedIn = await rp.signIn(ctx.client);
    const hint = signedIn.tokens.id_token!;
    const signer = decodeProtectedHeader(hint).kid!;
    await keys(server, 'rotate');
    await keys(server, 'activate');
    assert.notEqual(await ctx.activeKid(), signer);

    const accepted = await rp.logout(signedIn.agent, { id_token_hint: hint });
    assert.equal(accepted.page.status, 200, accepted.html.slice(0, 300));
    assert.ok(accepted.form, 'the logout confirmation is shown');

    await keys(server, 'retire', signer);
    const refused = await rp.logout((await rp.signIn(ctx.client)).agent, { id_token_hint: hint });
    assert.equal(refused.page.status, 400);
    assert.match(refused.html, /could not validate id_token_hint/);
  });
});

describeEachStore('signing-key activation timer', (start) => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  // Real time here: the clock is never moved, the server's own timer must act.
  before(async () => (ctx = await setup(start, { KEY_ACTIVATION_DELAY: '2', JWKS_MAX_AGE: '1' })));
  after(() => ctx.stop());

  it('starts signing with a pending key at its activation time, with no command and no restart', async () => {
    const next = (await keys(ctx.server, 'rotate')).find((k) => k.alg === 'RS256')!.kid;
    const deadline = Date.now() + 60_000;
    let kid: string | undefined;
    while (kid !== next) {
      assert.ok(Date.now() < deadline, `the pending key ${next} never signed`);
      kid = decodeProtectedHeader(await ctx.login()).kid;
    }
  });
});
