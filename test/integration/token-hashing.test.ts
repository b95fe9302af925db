// Tokens at rest: a read of the stored payloads yields no live token. After a login, no row holds the
// access token, the refresh token, the authorization code or the session cookie's value, and every one
// of them still works. On PGlite and Postgres the table is read as text; on the in-memory stores every
// write is recorded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { createMemoryStores } from '../../src/memory/stores.ts';
import type { PayloadStore } from '../../src/oidc/ports.ts';
import { hashTokenId } from '../../src/oidc/token-ids.ts';
import { createAgent, followToClient, signIn, startLogin } from '../helpers/login.ts';
import { describeEachDatabase } from '../helpers/db.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const POST_LOGOUT_URI = 'https://rp.example.com/logged-out';

interface Started {
  server: TestServer;
  /** Every stored payload row as text (for the memory stores: every write ever made). */
  rows(): Promise<string[]>;
  stop(): Promise<void>;
}

function suite(start: () => Promise<Started>) {
  let s: Started;
  before(async () => {
    s = await start();
  });
  after(() => s?.stop());

  it('stores neither the access token, the refresh token, the code nor the session cookie, and each still works', async () => {
    const rp = relyingParty(s.server);
    const client = await s.server.addClient({ grant_types: ['authorization_code', 'refresh_token'], post_logout_redirect_uris: [POST_LOGOUT_URI] });
    const agent = createAgent(s.server.issuer);
    const { url, verifier } = rp.authorization(client, { scope: 'openid profile offline_access', prompt: 'consent' });
    const callback = await followToClient(agent, await signIn(agent, await startLogin(agent, url), Wallet.createRandom()));
    const code = callback.searchParams.get('code')!;
    const tokens = await rp.redeem(client, callback, verifier);
    const sessionCookie = (await agent.jar.getCookies(s.server.issuer)).find((c) => c.key === '_session')?.value;
    assert.ok(tokens.access_token && tokens.refresh_token && code && sessionCookie);
    // A second authorization within the session: its Interaction would copy the session's cookie value.
    await startLogin(agent, rp.authorization(client, { prompt: 'login' }).url);

    const rows = await s.rows();
    assert.ok(rows.some((row) => row.includes('AccessToken')) && rows.some((row) => row.includes('Session')), 'the rows were read');
    for (const [name, secret] of Object.entries({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, code, _session: sessionCookie })) {
      assert.equal(rows.filter((row) => row.includes(secret)).length, 0, `${name} is stored in clear`);
    }

    assert.equal(await rp.userinfoStatus(tokens.access_token), 200);
    assert.equal((await rp.introspect(client, tokens.access_token)).body.active, true);
    assert.equal((await rp.introspect(client, tokens.refresh_token)).body.active, true);
    const refreshed = await rp.refresh(client, tokens.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(await rp.userinfoStatus(refreshed.body.access_token!), 200);

    const silent = await rp.authorize(agent, rp.authorization(client, { prompt: 'none' }).url);
    assert.ok(silent.searchParams.get('code'), `the session cookie finds its session: ${silent.href}`);

    assert.equal((await rp.revoke(client, tokens.access_token)).status, 200);
    assert.equal(await rp.userinfoStatus(tokens.access_token), 401, 'revoked');
    const { confirm } = await rp.logout(agent, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT_URI });
    assert.equal(confirm!.status, 303);
    const after = await rp.authorize(agent, rp.authorization(client, { prompt: 'none' }).url);
    assert.equal(after.searchParams.get('error'), 'login_required', 'logout ended the session');
  });

  it('answers a stored hash presented as a token as it would any unknown token', async () => {
    const rp = relyingParty(s.server);
    const client = await s.server.addClient();
    const { tokens } = await rp.signIn(client, { params: { prompt: 'consent' } });
    const hash = hashTokenId(tokens.access_token!);
    assert.ok(
      (await s.rows()).some((row) => row.includes(hash)),
      'the hash is what is stored',
    );
    assert.equal(await rp.userinfoStatus(hash), 401);
    // A handle is not even a well-formed bearer token (RFC 6750 b64token has no ':'): the input gate answers 400.
    assert.equal(await rp.userinfoStatus(`stored-sha256:${hash}`), 400);
    for (const presented of [hash, `stored-sha256:${hash}`]) {
      assert.equal((await rp.introspect(client, presented)).body.active, false, presented);
    }
  });
}

describeEachDatabase('tokens at rest', (backend) =>
  suite(async () => {
    const db = await backend.create();
    const server = await startTestServer(db);
    const knex = server.ctx.database!.knex;
    return {
      server,
      rows: async () => ((await knex.raw('SELECT t::text AS row FROM oidc_payloads t')) as { rows: { row: string }[] }).rows.map((r) => r.row),
      stop: async () => (await server.close(), await db.drop()),
    };
  }),
);

describe('tokens at rest (memory)', () =>
  suite(async () => {
    const stores = createMemoryStores(() => new Date());
    const written: string[] = [];
    const payloads: PayloadStore = {
      ...stores.payloads,
      upsert: (model, id, payload, expiresAt) => (written.push(JSON.stringify({ model, id, payload })), stores.payloads.upsert(model, id, payload, expiresAt)),
    };
    const server = await startTestServer('memory', { overrides: { stores: { ...stores, payloads } } });
    return { server, rows: async () => [...written], stop: () => server.close() };
  }));
