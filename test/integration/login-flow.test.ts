// A relying party (openid-client) completes code + PKCE logins with an ethers wallet through the login contract.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, it } from 'node:test';
import * as oidc from 'openid-client';
import { Wallet } from 'ethers';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { createOpenidClient } from '../helpers/rp.ts';
import { createAgent, loginWithWallet } from '../helpers/login.ts';

async function setup(db: TestDatabase) {
  const server = await startTestServer(db);
  const { client, config: rp, authorize } = await createOpenidClient(server);
  return { server, client, rp, authorize };
}

describeEachDatabase('wallet login through openid-client', (backend) => {
  let db: TestDatabase;
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    db = await backend.create();
    ctx = await setup(db);
  });
  after(async () => {
    await ctx?.server.close();
    await db?.drop();
  });

  it('completes code + PKCE and returns an RS256 ID token whose sub is the checksummed address', async () => {
    const wallet = Wallet.createRandom();
    const { url, checks } = await ctx.authorize();
    const callback = await loginWithWallet(createAgent(ctx.server.issuer), url, wallet);
    const tokens = await oidc.authorizationCodeGrant(ctx.rp, callback, checks);
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString());
    assert.equal(header.alg, 'RS256');
    const claims = tokens.claims()!;
    assert.equal(claims.sub, wallet.address);
    assert.equal(claims.preferred_username, wallet.address);
    const userinfo = await oidc.fetchUserInfo(ctx.rp, tokens.access_token, claims.sub);
    assert.equal(userinfo.sub, wallet.address);
    assert.equal(userinfo.preferred_username, wallet.address);
  });

  it('advertises endpoints on the issuer whatever Host or X-Forwarded-* the request carries', async () => {
    const { port } = new URL(ctx.server.issuer);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(
          {
            host: '127.0.0.1',
            port,
            path: '/.well-known/openid-configuration',
            headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
          },
          (res) => {
            let data = '';
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve(data));
          },
        )
        .on('error', reject);
    });
    const discovery = JSON.parse(body);
    assert.equal(discovery.issuer, ctx.server.issuer);
    assert.equal(discovery.authorization_endpoint, `${ctx.server.issuer}/auth`);
    assert.equal(discovery.jwks_uri, `${ctx.server.issuer}/jwks`);
  });
});
