// Stopping and starting again keeps every account, client, key and session.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import * as oidc from 'openid-client';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import { createAgent, followToClient, loginWithWallet } from '../helpers/login.ts';
import type { StoredClient } from '../../src/db/clients.ts';

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
    const client: StoredClient = await server.addClient();
    const wallet = Wallet.createRandom();
    const agent = createAgent(server.issuer);
    const rp = await oidc.discovery(new URL(server.issuer), client.client_id, client.client_secret, oidc.ClientSecretPost(client.client_secret!), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const tokens = await oidc.authorizationCodeGrant(rp, await loginWithWallet(agent, url, wallet), { pkceCodeVerifier: verifier });
    const jwksBefore = await jwksOf(server.issuer);

    await server.close();
    server = await startTestServer(db, restart);

    assert.deepEqual(await jwksOf(server.issuer), jwksBefore, 'the signing keys are the same');
    const kid = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid;
    assert.ok(jwksBefore.keys.some((k) => k.kid === kid));
    assert.equal((await server.storage.accounts.find(wallet.address))?.loginCount, 1);
    assert.equal((await server.storage.clients.find(client.client_id))?.client_secret, client.client_secret);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, wallet.address);
    assert.equal(userinfo.sub, wallet.address, 'the access token survived');

    // The browser's session cookie still signs the user in: no new signature, no consent.
    const again = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await followToClient(agent, again.href, { consent: false });
    assert.ok(callback.searchParams.get('code'), `expected a code, got ${callback.href}`);
  });
});
