// A logout with no one logged in ends at once. oidc-provider answers GET /session/end for a browser
// without a session with a form that posts itself to /session/end/confirm, and keeps the form's XSRF
// secret in a new session row until then (lib/actions/end_session.js). There is nothing to end, and a
// script that never posts the form would leave one row per request. Here the browser is sent straight
// to where the confirm step would send it (the validated post_logout_redirect_uri with state, or the
// success page), and the session adapter (adapter.ts) never stores a session without an account.
import type { KoaContextWithOIDC } from 'oidc-provider';

interface LogoutState {
  postLogoutRedirectUri?: string;
  state?: string;
}

export async function endAnonymousLogout(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (oidc?.route !== 'end_session' || ctx.status !== 200 || !oidc.session || oidc.session.accountId) return;
  const { postLogoutRedirectUri, state } = (oidc.session.state ?? {}) as LogoutState;
  let target = oidc.urlFor('end_session_success');
  if (postLogoutRedirectUri) {
    // As the confirm step builds it (lib/helpers/redirect_uri.js): state only when the client sent one.
    const url = new URL(postLogoutRedirectUri);
    if (state != null) url.searchParams.set('state', state);
    target = url.href;
  }
  // The session cookie pointed at the unsaved session: it is not set at all.
  const cookie = new RegExp(`^${oidc.provider.cookieName('session')}(\\.sig)?=`);
  const setCookie = ctx.response.get('set-cookie') as unknown as string[] | string;
  const kept = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).filter((c) => !cookie.test(c));
  if (kept.length) ctx.set('set-cookie', kept);
  else ctx.remove('set-cookie');
  ctx.status = 303;
  ctx.redirect(target);
}
