// One-time artifacts under concurrent use, as an attacker would try them: an authorization code
// redeemed many times at once, a rotating refresh token used many times at once. Exactly one
// request wins; every other gets invalid_grant, and the reuse revokes what the winner was issued
// (RFC 6749 §4.1.2; refresh-token rotation, RFC 9700 §4.14.2). Runs on every store.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { relyingParty } from '../helpers/raw-rp.ts';
import { describeEachStore, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { loginWithWallet, createAgent } from '../helpers/login.ts';
import { Wallet } from 'ethers';

/** Concurrent copies of each request; trials repeat the race, since one lucky ordering proves nothing. */
const COPIES = 10;
const TRIALS = 4;

function suite(start: () => Promise<{ server: TestServer; stop(): Promise<void> }>) {
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;
  let rp: ReturnType<typeof relyingParty>;
  before(async () => {
    ({ server, stop } = await start());
    rp = relyingParty(server);
  });
  after(() => stop?.());

  it(`redeems an authorization code once when ${COPIES} requests race, and the reuse revokes the winner's tokens`, async () => {
    const client = await server.addClient({ skip_consent: true });
    for (let trial = 0; trial < TRIALS; trial++) {
      const { url, verifier } = rp.authorization(client);
      const callback = await loginWithWallet(createAgent(server.issuer), url, Wallet.createRandom());
      const code = callback.searchParams.get('code')!;
      const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
      const answers = await Promise.all(Array.from({ length: COPIES }, () => rp.token(client, params)));
      const winners = answers.filter((a) => a.status === 200);
      assert.equal(winners.length, 1, `trial ${trial}: ${answers.map((a) => a.status).join(' ')}`);
      for (const loser of answers.filter((a) => a.status !== 200)) assert.deepEqual([loser.status, loser.body.error], [400, 'invalid_grant']);
      assert.equal(await rp.userinfoStatus(winners[0]!.body.access_token!), 401, `trial ${trial}: the winner's access token was revoked`);
    }
  });

  it(`rotates a public client's refresh token once when ${COPIES} requests race, and the reuse revokes the grant`, async () => {
    const client = await server.addClient({ skip_consent: true, grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' });
    for (let trial = 0; trial < TRIALS; trial++) {
      const { tokens } = await rp.signIn(client, { params: { scope: 'openid offline_access', prompt: 'consent' } });
      const refreshToken = tokens.refresh_token!;
      assert.ok(refreshToken);
      const answers = await Promise.all(Array.from({ length: COPIES }, () => rp.refresh(client, refreshToken)));
      const winners = answers.filter((a) => a.status === 200);
      assert.equal(winners.length, 1, `trial ${trial}: ${answers.map((a) => a.status).join(' ')}`);
      for (const loser of answers.filter((a) => a.status !== 200)) assert.deepEqual([loser.status, loser.body.error], [400, 'invalid_grant']);
      const next = await rp.refresh(client, winners[0]!.body.refresh_token!);
      assert.deepEqual([next.status, next.body.error], [400, 'invalid_grant'], `trial ${trial}: the winner's new refresh token died with the grant`);
    }
  });
}

describeEachStore('one-time tokens under concurrent use', suite);
