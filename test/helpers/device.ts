// The person's side of the device authorization grant (RFC 8628 §3.3), as a browser without a wallet extension would
// do it through the pages: open the verification URI, send the user code, Continue or Cancel, sign in, consent.
import type { Agent, TestWallet } from './login.ts';
import { postJson, signIn } from './login.ts';

export interface PageResponse {
  status: number;
  location: string | null;
  html: string;
  csp: string | null;
}

async function send(agent: Agent, url: string | URL, form?: Record<string, string>): Promise<PageResponse> {
  const res = await agent.fetch(new URL(url, agent.issuer), {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: { accept: 'text/html', ...(form ? { 'content-type': 'application/x-www-form-urlencoded', origin: agent.issuer } : {}) },
    ...(form ? { body: new URLSearchParams(form).toString() } : {}),
  });
  return { status: res.status, location: res.headers.get('location'), csp: res.headers.get('content-security-policy'), html: await res.text() };
}

/** The form secret the page carries (oidc-provider checks it on every post to /device). */
export function xsrfOf(html: string): string {
  const xsrf = html.match(/name="xsrf" value="([0-9a-f]+)"/)?.[1];
  if (!xsrf) throw new Error(`no xsrf field in the page: ${html.slice(0, 300)}`);
  return xsrf;
}

/** Opens the verification URI and sends `userCode` through its form: the confirmation page, or the form again with a problem. */
export async function enterUserCode(agent: Agent, userCode: string): Promise<PageResponse & { xsrf: string }> {
  const input = await send(agent, '/device');
  const page = await send(agent, '/device', { xsrf: xsrfOf(input.html), user_code: userCode });
  return { ...page, xsrf: xsrfOf(page.html) };
}

/** Continue (or Cancel, `abort`) on the confirmation page. */
export const answerConfirmation = (agent: Agent, xsrf: string, userCode: string, choice: 'confirm' | 'abort') =>
  send(agent, '/device', { xsrf, user_code: userCode, confirm: 'yes', ...(choice === 'abort' ? { abort: 'yes' } : {}) });

/**
 * After Continue: the wallet sign-in, consent when asked, and the redirects back to the verification URI; returns the
 * page the person ends on (the success page, or the user-code form with a problem).
 */
export async function signInForDevice(agent: Agent, loginUrl: string, wallet: TestWallet): Promise<PageResponse> {
  const uid = loginUrl.match(/\/interaction\/([^/?#]+)$/)?.[1];
  if (!uid) throw new Error(`expected a redirect to the login, got ${loginUrl}`);
  let next = await signIn(agent, uid, wallet);
  for (let hops = 0; hops < 10; hops++) {
    const consent = new URL(next, agent.issuer).pathname.match(/^\/interaction\/([^/]+)$/);
    if (consent) {
      const res = await postJson<{ redirectTo: string }>(agent, `/interaction/${consent[1]}/confirm`, {});
      if (res.status !== 200) throw new Error(`confirm refused: ${res.status} ${JSON.stringify(res.body)}`);
      next = res.body.redirectTo;
      continue;
    }
    const page = await send(agent, next);
    if (!page.location) return page;
    next = page.location;
  }
  throw new Error('too many redirects');
}

/** The whole approval: code, Continue, wallet sign-in, consent; returns the page the person ends on. */
export async function approveDevice(agent: Agent, userCode: string, wallet: TestWallet): Promise<PageResponse> {
  const confirmation = await enterUserCode(agent, userCode);
  if (confirmation.status !== 200) throw new Error(`the code was refused: ${confirmation.status}`);
  const toLogin = await answerConfirmation(agent, confirmation.xsrf, userCode, 'confirm');
  if (toLogin.status !== 303 || !toLogin.location) throw new Error(`expected a redirect to the login, got ${toLogin.status}`);
  return signInForDevice(agent, toLogin.location, wallet);
}
