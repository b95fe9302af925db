// One-time tokens attacked from outside, against `npm start` itself: a real server process on PGlite
// and on Postgres, clients added with the CLI, nothing of the server in the test's own process.
// Each authorization code is redeemed by 20 requests at once, 50 codes in a row; each refresh token
// is used by 20 requests at once. Exactly one request wins each race, every other one gets
// invalid_grant, and the reuse revokes what the winner got (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, loginWithWallet } from '../helpers/login.ts';
import { cli, startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI } from '../helpers/server.ts';

const COPIES = 20;
const CODE_TRIALS = 50;
const REFRESH_TRIALS = 20;

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
  let rp: ReturnType<typeof relyingParty>;

  before(async () => {
    db = await backend.create();
    confidential = await addClient(db, ['--name', 'Confidential']);
    publicClient = await addClient(db, ['--name', 'Public', '--auth-method', 'none', '--metadata', '{"grant_types":["authorization_code","refresh_token"]}']);
    server = await startServerProcess(db.env);
    rp = relyingParty({ issuer: server.issuer });
  });
  after(async () => {
    const code = await server?.stop();
    await db?.drop();
    assert.equal(code, 0, `the server stopped cleanly:\n${server?.output()}`);
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
});
