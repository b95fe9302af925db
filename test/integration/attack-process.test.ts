// One-time tokens attacked from outside, against `npm start` itself: a real server process on PGlite
// and on Postgres, clients added with the CLI, nothing of the server in the test's own process.
// Each authorization code is redeemed by 20 requests at once, 50 codes in a row; each refresh token
// is used by 20 requests at once. Exactly one request wins each race, every other one gets
// invalid_grant, and the reuse revokes what the winner got (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
// Then the abuse bursts: cookieless logouts and wrong client secrets end in 429s, and the tables
// hold exactly the sessions of the real sign-ins, none of the flood.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createDb } from '../../src/db/knex.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, loginWithWallet } from '../helpers/login.ts';
import { cli, startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI } from '../helpers/server.ts';

const COPIES = 20;
const CODE_TRIALS = 50;
const REFRESH_TRIALS = 20;
/** Small limits for this process, so a burst reaches them quickly. */
const END_SESSION_LIMIT = 30;
const AUTH_FAILURE_LIMIT = 10;

async function addClient(db: TestDatabase, args: string[]): Promise<StoredClient> {
  const res = await cli(['clients', 'add', '--redirect-uri', REDIRECT_URI, '--skip-consent', '--json', ...args], db.env);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as StoredClient;
}

/** How many answers had each status and error, e.g. `{"200": 1, "400 invalid_grant": 19}`. */
function tally(answers: { status: number; body: { error?: string } }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status, body } of answers) {
    const key = body.error ? `${status} ${body.error}` : String(status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describeEachDatabase('one-time tokens raced against a server process', (backend) => {
  let db: TestDatabase;
  let server: ServerProcess | undefined;
  let confidential: StoredClient;
  let publicClient: StoredClient;
  let lockedOut: StoredClient;
  let rp: ReturnType<typeof relyingParty>;

  before(async () => {
    db = await backend.create();
    confidential = await addClient(db, ['--name', 'Confidential']);
    publicClient = await addClient(db, ['--name', 'Public', '--auth-method', 'none', '--metadata', '{"grant_types":["authorization_code","refresh_token"]}']);
    lockedOut = await addClient(db, ['--name', 'Locked out']);
    server = await startServerProcess({
      ...db.env,
      END_SESSION_RATE_LIMIT: String(END_SESSION_LIMIT),
      CLIENT_AUTH_FAILURE_LIMIT: String(AUTH_FAILURE_LIMIT),
    });
    rp = relyingParty({ issuer: server.issuer });
  });
  after(async () => {
    // Stopped already by the last test, unless an earlier one failed.
    await server?.stop();
    await db?.drop();
  });

  it(`redeems each of ${CODE_TRIALS} codes exactly once when ${COPIES} requests race, and revokes the winner's tokens`, async () => {
    const outcomes: Record<string, number> = {};
    for (let trial = 0; trial < CODE_TRIALS; trial++) {
      const { url, verifier } = rp.authorization(confidential);
      const callback = await loginWithWallet(createAgent(server!.issuer), url, Wallet.createRandom());
      const params = { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier };
      const answers = await Promise.all(Array.from({ length: COPIES }, () => rp.token(confidential, params)));
      const counts = tally(answers);
      assert.deepEqual(counts, { '200': 1, '400 invalid_grant': COPIES - 1 }, `trial ${trial}`);
      const winner = answers.find((a) => a.status === 200)!.body;
      assert.equal(await rp.userinfoStatus(winner.access_token!), 401, `trial ${trial}: the winner's access token was revoked by the reuse`);
      for (const [key, n] of Object.entries(counts)) outcomes[key] = (outcomes[key] ?? 0) + n;
    }
    assert.deepEqual(outcomes, { '200': CODE_TRIALS, '400 invalid_grant': CODE_TRIALS * (COPIES - 1) });
  });

  it(`rotates each of ${REFRESH_TRIALS} refresh tokens exactly once when ${COPIES} requests race, and the reuse ends the grant`, async () => {
    for (let trial = 0; trial < REFRESH_TRIALS; trial++) {
      const { tokens } = await rp.signIn(publicClient, { params: { scope: 'openid offline_access', prompt: 'consent' } });
      assert.ok(tokens.refresh_token, 'a refresh token was issued');
      const answers = await Promise.all(Array.from({ length: COPIES }, () => rp.refresh(publicClient, tokens.refresh_token!)));
      assert.deepEqual(tally(answers), { '200': 1, '400 invalid_grant': COPIES - 1 }, `trial ${trial}`);
      const winner = answers.find((a) => a.status === 200)!.body;
      const next = await rp.refresh(publicClient, winner.refresh_token!);
      assert.deepEqual([next.status, next.body.error], [400, 'invalid_grant'], `trial ${trial}: the winner's new refresh token died with the grant`);
      assert.equal(await rp.userinfoStatus(winner.access_token!), 401, `trial ${trial}: so did its access token`);
    }
  });
  it(`answers a burst of cookieless logouts with 429 and Retry-After past ${END_SESSION_LIMIT} a minute`, async () => {
    const statuses = await Promise.all(
      Array.from({ length: END_SESSION_LIMIT * 2 }, async () => {
        const res = await fetch(`${server!.issuer}/session/end`, { redirect: 'manual' });
        await res.arrayBuffer();
        assert.ok(res.status !== 429 || Number(res.headers.get('retry-after')) > 0, 'a 429 says when to come back');
        return res.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 429).length, END_SESSION_LIMIT, statuses.join(' '));
    assert.ok(
      statuses.every((s) => s === 429 || s === 303),
      `the rest ended at once, without a session: ${statuses.join(' ')}`,
    );
  });

  it(`locks a client id out once over ${AUTH_FAILURE_LIMIT} wrong secrets a minute, refusing the right one too`, async () => {
    const params = { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: REDIRECT_URI };
    const wrong = { ...lockedOut, client_secret: 'not-the-secret' };
    // One after the other: each failure is counted once oidc-provider has refused it, before the next guess.
    const answers = [];
    for (let i = 0; i < AUTH_FAILURE_LIMIT + 5; i++) answers.push(await rp.token(wrong, params));
    const counts = tally(answers);
    // The limit's failures, and the one that goes over it; every later request is refused before any secret is compared.
    assert.deepEqual(counts, { '401 invalid_client': AUTH_FAILURE_LIMIT + 1, '429 rate_limited': 4 });
    const right = await rp.token(lockedOut, params);
    assert.deepEqual([right.status, right.body.error], [429, 'rate_limited'], 'the right secret is refused during the lockout');
  });

  it('keeps exactly the sessions of the sign-ins: none from the flood (read after the server stops)', async () => {
    assert.equal(await server!.stop(), 0, server!.output());
    const knex = createDb(db.database);
    try {
      const [{ count }] = (await knex('oidc_payloads').where({ model: 'Session' }).count({ count: '*' })) as [{ count: string | number }];
      assert.equal(Number(count), CODE_TRIALS + REFRESH_TRIALS, 'one session per sign-in');
    } finally {
      await knex.destroy();
    }
  });
});
