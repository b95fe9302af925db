// Stopping and starting again keeps every account, client, key and session.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { createAgent, followToClient, loginWithWallet } from '../helpers/login.ts';

const jwksOf = async (issuer: string) => (await (await fetch(new URL('/jwks', issuer))).json()) as { keys: { kid: string }[] };

describeEachDatabase('a restart', (backend) => {
  let db: TestDatabase;
  let server: TestServer | undefined;
  before(async () => {
    db = await backend.create();
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  it('keeps accounts, clients, signing keys and sessions', async () => {
    server = await startTestServer(db);
    // The issuer (and so the port) stays the same across the restart, as in production.
    const restart = { port: server.port };
    const { client, config: rp, authorize } = await createOpenidClient(server);
    const wallet = Wallet.createRandom();
    const agent = createAgent(server.issuer);
    const first = await authorize();
    const tokens = await oidc.authorizationCodeGrant(rp, await loginWithWallet(agent, first.url, wallet), first.checks);
    const jwksBefore = await jwksOf(server.issuer);

    await server.close();
    server = await startTestServer(db, restart);

    assert.deepEqual(await jwksOf(server.issuer), jwksBefore, 'the signing keys are the same');
    const kid = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid;
    assert.ok(jwksBefore.keys.some((k) => k.kid === kid));
    assert.equal((await server.ctx.stores.accounts.find(wallet.address))?.loginCount, 1);
    assert.equal((await server.ctx.stores.clients.find(client.client_id))?.client_secret, client.client_secret);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, wallet.address);
    assert.equal(userinfo.sub, wallet.address, 'the access token survived');

    // The browser's session cookie still signs the user in: no new signature, no consent.
    const again = (await authorize()).url;
    const callback = await followToClient(agent, again.href, { consent: false });
    assert.ok(callback.searchParams.get('code'), `expected a code, got ${callback.href}`);
  });
});
