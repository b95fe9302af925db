// Drives the login contract as a script would: a cookie jar, an ethers Wallet, no browser.
import makeFetchCookie from 'fetch-cookie';
import { CookieJar } from 'tough-cookie';
import type { Wallet, HDNodeWallet } from 'ethers';

export type TestWallet = Wallet | HDNodeWallet;

export interface Agent {
  fetch: typeof fetch;
  jar: CookieJar;
  issuer: string;
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** A cookie jar over `base` (the global fetch, or one that also records each request). */
export function createAgent(issuer: string, base: typeof fetch = fetch): Agent {
  const jar = new CookieJar();
  return { fetch: makeFetchCookie(base, jar) as unknown as typeof fetch, jar, issuer };
}

export async function postJson<T = Record<string, unknown>>(agent: Agent, path: string, body: unknown, init: RequestInit = {}): Promise<JsonResponse<T>> {
  const res = await agent.fetch(new URL(path, agent.issuer), {
    method: 'POST',
    redirect: 'manual',
    ...init,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(init.headers as Record<string, string>) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Opens the authorization URL and returns the interaction uid it leads to. */
export async function startLogin(agent: Agent, authorizationUrl: URL | string): Promise<string> {
  const res = await agent.fetch(authorizationUrl, { redirect: 'manual' });
  const location = res.headers.get('location');
  const match = location?.match(/\/interaction\/([^/?#]+)$/);
  if (res.status !== 303 || !match) throw new Error(`expected a redirect to an interaction, got ${res.status} ${location}`);
  return match[1]!;
}

export interface Challenge {
  message: string;
  nonce: string;
  expiresAt: string;
}

export async function requestChallenge(agent: Agent, uid: string, address: string, chainId = 1): Promise<Challenge> {
  const res = await postJson<Challenge>(agent, `/interaction/${uid}/challenge`, { address, chainId });
  if (res.status !== 200) throw new Error(`challenge refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const verify = (agent: Agent, uid: string, message: string, signature: string) =>
  postJson<{ redirectTo?: string; error?: string; error_description?: string }>(agent, `/interaction/${uid}/verify`, { message, signature });

/** Challenge, sign with the wallet, verify: returns where the login continues. */
export async function signIn(agent: Agent, uid: string, wallet: TestWallet, chainId = 1): Promise<string> {
  const { message } = await requestChallenge(agent, uid, wallet.address, chainId);
  const res = await verify(agent, uid, message, await wallet.signMessage(message));
  if (res.status !== 200 || !res.body.redirectTo) throw new Error(`verify refused: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.redirectTo;
}

/**
 * Follows redirects from `url` until one leaves the issuer (the RP's redirect URI), giving consent
 * through the contract when asked. Returns that final URL.
 */
export async function followToClient(agent: Agent, url: string, opts: { consent?: boolean } = {}): Promise<URL> {
  let next = new URL(url, agent.issuer);
  for (let hops = 0; hops < 10; hops++) {
    if (next.origin !== agent.issuer) return next;
    const consentMatch = next.pathname.match(/^\/interaction\/([^/]+)$/);
    if (consentMatch) {
      if (opts.consent === false) throw new Error(`consent was asked for: ${next.href}`);
      const res = await postJson<{ redirectTo: string }>(agent, `/interaction/${consentMatch[1]}/confirm`, {});
      if (res.status !== 200) throw new Error(`confirm refused: ${res.status} ${JSON.stringify(res.body)}`);
      next = new URL(res.body.redirectTo, agent.issuer);
      continue;
    }
    const res = await agent.fetch(next, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (!location) throw new Error(`expected a redirect from ${next.href}, got ${res.status}: ${(await res.text()).slice(0, 300)}`);
    next = new URL(location, next);
  }
  throw new Error('too many redirects');
}

/** A whole login: authorization URL → interaction → signature → (consent) → the RP's callback URL. */
export async function loginWithWallet(agent: Agent, authorizationUrl: URL | string, wallet: TestWallet, chainId = 1): Promise<URL> {
  const uid = await startLogin(agent, authorizationUrl);
  return followToClient(agent, await signIn(agent, uid, wallet, chainId));
}
