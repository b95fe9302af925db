// Malformed input never answers 5xx: NUL bytes where tokens, codes and ids go (Postgres text cannot
// hold them, so a lookup must not reach it), and bodies that do not decode with their
// Content-Encoding. Runs on Postgres (where NUL used to give 500s), PGlite and the in-memory stores.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createAgent, startLogin, type Agent } from '../helpers/login.ts';
import { describeEachStore, REDIRECT_URI, type TestServer } from '../helpers/server.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';

const PKCE = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };

function suite(start: () => Promise<{ server: TestServer; stop(): Promise<void> }>) {
  let server: TestServer;
  let stop: (() => Promise<void>) | undefined;
  let client: StoredClient;
  before(async () => {
    ({ server, stop } = await start());
    client = await server.addClient();
  });
  after(() => stop?.());

  const form = (params: Record<string, string>): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret!, ...params }),
  });

  async function atLogin(): Promise<{ agent: Agent; uid: string }> {
    const agent = createAgent(server.issuer);
    const url = new URL('/auth', server.issuer);
    const params = { client_id: client.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', ...PKCE };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { agent, uid: await startLogin(agent, url) };
  }

  it('answers NUL bytes in codes, tokens, client ids and interaction ids with 4xx', async () => {
    const nul = 'a\u0000b';
    const shapes: [string, string, RequestInit, number, string?][] = [
      ['code', '/token', form({ grant_type: 'authorization_code', code: nul, redirect_uri: REDIRECT_URI }), 400, 'invalid_grant'],
      ['refresh token', '/token', form({ grant_type: 'refresh_token', refresh_token: nul }), 400],
      ['client id', '/token', form({ grant_type: 'authorization_code', code: 'x', client_id: nul }), 401, 'invalid_client'],
      ['introspected token', '/token/introspection', form({ token: nul }), 200],
      ['revoked token', '/token/revocation', form({ token: nul }), 200],
      ['bearer token', '/me', { headers: { authorization: `Bearer ${encodeURIComponent(nul)}` } }, 401, 'invalid_token'],
      ['client id at /auth', `/auth?client_id=${encodeURIComponent(nul)}&response_type=code&scope=openid`, { headers: { accept: 'application/json' } }, 400],
      ['interaction uid', `/interaction/${encodeURIComponent(nul)}`, { headers: { accept: 'application/json' } }, 400, 'interaction_not_found'],
      ['interaction uid (elsewhere)', `/interaction/${encodeURIComponent(nul)}/elsewhere`, { headers: { accept: 'application/json' } }, 400],
    ];
    for (const [name, path, init, status, error] of shapes) {
      const res = await fetch(new URL(path, server.issuer), { redirect: 'manual', ...init });
      const text = await res.text();
      assert.equal(res.status, status, `${name}: ${res.status} ${text.slice(0, 200)}`);
      if (error) assert.equal((JSON.parse(text) as { error: string }).error, error, name);
    }
  });

  it('answers a body that does not decode with its Content-Encoding with 400 invalid_request', async () => {
    const { agent, uid } = await atLogin();
    for (const route of ['challenge', 'verify']) {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await agent.fetch(new URL(`/interaction/${uid}/${route}`, server.issuer), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'content-encoding': encoding },
          body: 'not compressed at all',
        });
        assert.equal(res.status, 400, `${route} ${encoding}`);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request', `${route} ${encoding}`);
      }
    }
  });
}

describeEachStore('malformed input', suite);
