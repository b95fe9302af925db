// A relying party with raw HTTP against one running provider, so each request is explicit: the
// authorization request, code redemption, refresh, revocation, introspection, userinfo, logout.
import { createHash, randomBytes } from 'node:crypto';
import { Wallet } from 'ethers';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import assert from 'node:assert/strict';
import type { MemoryStores } from '../../src/memory/stores.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createAgent, loginWithWallet, type Agent, type TestWallet } from './login.ts';
import { REDIRECT_URI, type TestServer } from './server.ts';

export interface TokenResponse {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
  error?: string;
}

/** Hidden inputs and action of the first form in a page (our logout page wraps oidc-provider's form). */
function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const form = html.match(/<form\b[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/);
  if (!form) throw new Error(`no form in: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const [, name, value] of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) fields[name!] = value!;
  return { action: form[1]!, fields };
}

export /** What an RP does against one running provider, with raw HTTP so each request is explicit. */
function relyingParty<S extends Pick<TestServer, 'issuer'> & Partial<Pick<TestServer, 'ctx'>>>(server: S) {
  const { issuer } = server;
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const clientAuth = (client: StoredClient) => ({ client_id: client.client_id, ...(client.client_secret ? { client_secret: client.client_secret } : {}) });

  const postForm = async <T>(path: string, params: Record<string, string>) => {
    const res = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };

  /** An authorization request with state, nonce and PKCE S256 (public clients must send it, confidential ones may). */
  const authorization = (client: StoredClient, params: Record<string, string> = {}) => {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL('/auth', issuer);
    const all = {
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...params,
    };
    for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
    return { url, verifier, state: all.state };
  };

  const redeem = async (client: StoredClient, callback: URL, verifier: string) => {
    const code = callback.searchParams.get('code');
    if (!code) throw new Error(`no code in ${callback.href}`);
    const res = await postForm<TokenResponse>('/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      ...clientAuth(client),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  /** A user signs in to `client` with a wallet (and a cookie jar, which keeps the session) and the RP redeems the code. */
  const signIn = async (client: StoredClient, opts: { wallet?: TestWallet; agent?: Agent; params?: Record<string, string> } = {}) => {
    const wallet = opts.wallet ?? Wallet.createRandom();
    const agent = opts.agent ?? createAgent(issuer);
    const { url, verifier } = authorization(client, opts.params);
    const tokens = await redeem(client, await loginWithWallet(agent, url, wallet), verifier);
    return { wallet, agent, tokens, idToken: decodeJwt<{ auth_time?: number; sid?: string }>(tokens.id_token!) };
  };

  return {
    server,
    authorization,
    redeem,
    signIn,
    verifyJwt: (jwt: string, audience: string) => jwtVerify(jwt, jwks, { issuer, audience, algorithms: ['RS256'] }),
    /** Any request to the token endpoint, authenticated as `client`. */
    token: (client: StoredClient, params: Record<string, string>) => postForm<TokenResponse>('/token', { ...params, ...clientAuth(client) }),
    refresh: (client: StoredClient, refreshToken: string) =>
      postForm<TokenResponse>('/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...clientAuth(client) }),
    revoke: (client: StoredClient, token: string, hint?: string) =>
      postForm('/token/revocation', { token, ...(hint ? { token_type_hint: hint } : {}), ...clientAuth(client) }),
    introspect: (client: StoredClient, token: string) => postForm<Record<string, unknown>>('/token/introspection', { token, ...clientAuth(client) }),
    userinfoStatus: async (accessToken: string) => (await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status,
    /** The redirect /auth answers at once, for requests that must not reach an interaction. */
    authorize: async (agent: Agent, url: URL) => new URL((await agent.fetch(url, { redirect: 'manual' })).headers.get('location')!, issuer),
    /** RP-initiated logout as a browser does it: GET /session/end, then submit the confirm form with logout=yes. */
    async logout(agent: Agent, params: Record<string, string>) {
      const page = await agent.fetch(`${issuer}/session/end?${new URLSearchParams(params)}`, { redirect: 'manual' });
      const html = await page.text();
      if (page.status !== 200) return { page, html };
      const form = parseForm(html);
      const confirm = await agent.fetch(form.action, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, logout: 'yes' }),
      });
      return { page, html, form, confirm };
    },
    /** Records the login contract wrote for a client: each challenge and each verify leaves one. */
    loginRows: async (clientId: string) => {
      if (!server.ctx) throw new Error('loginRows reads the stores of a server in this process');
      const db = server.ctx.database?.knex;
      if (!db) {
        const memory = server.ctx.stores as MemoryStores;
        return memory.challenges.filter((c) => c.clientId === clientId).length + memory.events.filter((e) => e.clientId === clientId).length;
      }
      const [nonces, events] = await Promise.all([db('siwe_nonces').where({ client_id: clientId }), db('login_events').where({ client_id: clientId })]);
      return nonces.length + events.length;
    },
  };
}
