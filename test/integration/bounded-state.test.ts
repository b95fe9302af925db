// State stays bounded under sustained abuse: a burst of authorization requests, logouts without a
// session and refused logins leaves only rows that expire, an oversized request leaves none, and the
// sweep run past their lifetimes leaves every table as it found it.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { describeEachDatabase } from '../helpers/db.ts';
import { createAgent, requestChallenge, startLogin, verify } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.ts';
import { SWEEP_GRACE_SECONDS, sweepExpired } from '../../src/db/sweep.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const AUTHORIZATIONS = 500;
const LOGOUTS = 200;
const REFUSED_LOGINS = 20;

/** Runs `count` calls of `fn`, `width` at a time. */
async function burst(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i += width) await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, j) => fn(i + j)));
}

describeEachDatabase('bounded state under abuse', (backend) => {
  let server: TestServer;
  let drop: () => Promise<void>;
  let client: StoredClient;
  before(async () => {
    const db = await backend.create();
    drop = () => db.drop();
    server = await startTestServer(db);
    client = await server.addClient();
  });
  after(async () => {
    await server?.close();
    await drop?.();
  });

  const authorizationUrl = (state: string) => relyingParty(server).authorization(client, { state }).url;
  const rows = async () => {
    const knex = server.ctx.database!.knex;
    const count = async (table: string) => Number((await knex(table).count({ n: '*' }))[0]!.n);
    const models = (await knex('oidc_payloads').select('model').count({ n: '*' }).groupBy('model')) as { model: string; n: string | number }[];
    return {
      payloads: Object.fromEntries(models.map((m) => [m.model, Number(m.n)])),
      siwe_nonces: await count('siwe_nonces'),
      login_events: await count('login_events'),
    };
  };

  it('keeps every table bounded, and the sweep past expiry empties what the burst left', async () => {
    await burst(AUTHORIZATIONS, 25, async (i) => {
      const res = await fetch(authorizationUrl(`state-${i}`), { redirect: 'manual' });
      await res.arrayBuffer();
      assert.equal(res.status, 303);
    });

    // Logouts by clients without a session end at once, and store nothing.
    await burst(LOGOUTS, 25, async () => {
      const res = await fetch(new URL('/session/end', server.issuer), { redirect: 'manual' });
      await res.arrayBuffer();
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), `${server.issuer}/session/end/success`);
      assert.equal(res.headers.get('set-cookie'), null);
    });

    // Refused logins: each burns its challenge and leaves an audit row.
    await burst(REFUSED_LOGINS, 10, async () => {
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, authorizationUrl('refused'));
      const wallet = Wallet.createRandom();
      const { message } = await requestChallenge(agent, uid, wallet.address);
      const res = await verify(agent, uid, message, await Wallet.createRandom().signMessage(message));
      assert.equal(res.status, 401);
    });

    // An oversized request is refused at the client's redirect URI, and stores nothing.
    const oversized = await fetch(authorizationUrl('x'.repeat(12_000)), { redirect: 'manual' });
    assert.equal(oversized.status, 303);
    const refusal = new URL(oversized.headers.get('location')!);
    assert.equal(refusal.origin + refusal.pathname, REDIRECT_URI);
    assert.equal(refusal.searchParams.get('error'), 'invalid_request');

    assert.deepEqual(await rows(), {
      payloads: { Interaction: AUTHORIZATIONS + REFUSED_LOGINS },
      siwe_nonces: REFUSED_LOGINS,
      login_events: REFUSED_LOGINS,
    });

    // Past the longest lifetime of what a login leaves (the interaction's) and the sweep's grace.
    const lifetime = Math.max(server.config.ttl.interaction, server.config.challengeTtlSeconds);
    const pastExpiry = new Date(Date.now() + (lifetime + SWEEP_GRACE_SECONDS + 60) * 1000);
    const { loginEventRetentionDays } = server.config;
    await sweepExpired(server.ctx.database!.knex, { now: pastExpiry, loginEventRetentionDays, batchSize: 100 });
    // The audit rows stay for their retention, and no longer.
    assert.deepEqual(await rows(), { payloads: {}, siwe_nonces: 0, login_events: REFUSED_LOGINS });
    const pastRetention = new Date(pastExpiry.getTime() + (loginEventRetentionDays + 1) * 86400_000);
    await sweepExpired(server.ctx.database!.knex, { now: pastRetention, loginEventRetentionDays, batchSize: 100 });
    assert.deepEqual(await rows(), { payloads: {}, siwe_nonces: 0, login_events: 0 });
  });
});
