// The demo relying party: a plain node:http app that signs users in with wallet-oidc through
// openid-client v6, as any application would. Authorization code flow with PKCE S256, state and
// nonce; the ID token is validated and userinfo fetched. Example code for integrators: nothing
// here knows about wallets, it is ordinary OpenID Connect.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import * as oidc from 'openid-client';

export interface RelyingPartyOptions {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** What /login remembers for its /callback, keyed by a random cookie. */
interface PendingLogin {
  codeVerifier: string;
  state: string;
  nonce: string;
  startedAt: number;
}

const COOKIE = 'wallet_oidc_demo';
const LOGIN_TTL_MS = 10 * 60 * 1000;

export async function createRelyingParty(opts: RelyingPartyOptions): Promise<http.RequestListener> {
  const config = await oidc.discovery(
    opts.issuer,
    opts.clientId,
    undefined,
    oidc.ClientSecretPost(opts.clientSecret),
    // An http:// issuer is for development only; openid-client refuses it unless told.
    opts.issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
  );
  const pending = new Map<string, PendingLogin>();

  async function login(res: http.ServerResponse) {
    const now = Date.now();
    for (const [id, p] of pending) if (now - p.startedAt > LOGIN_TTL_MS) pending.delete(id);
    const login: PendingLogin = { codeVerifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce(), startedAt: now };
    const id = randomBytes(16).toString('base64url');
    pending.set(id, login);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: opts.redirectUri,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(login.codeVerifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
    });
    res.writeHead(303, { location: url.href, 'set-cookie': `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${LOGIN_TTL_MS / 1000}` }).end();
  }

  async function callback(req: http.IncomingMessage, res: http.ServerResponse) {
    const id = req.headers.cookie?.match(new RegExp(`(?:^|;\\s*)${COOKIE}=([^;]+)`))?.[1];
    const login = id ? pending.get(id) : undefined;
    if (!id || !login) {
      const text = 'This browser has no login waiting for this answer: it expired, was already used, or was started elsewhere.';
      return send(
        res,
        400,
        'No login in progress',
        html`<p>${text}</p>
          ${again}`,
      );
    }
    pending.delete(id);
    try {
      // Checks state and iss, redeems the code with the PKCE verifier, validates the ID token and its nonce.
      const tokens = await oidc.authorizationCodeGrant(config, new URL(req.url!, opts.redirectUri), {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      send(
        res,
        200,
        'Logged in',
        html`<p>Signed in as <code>${claims.sub}</code>.</p>
          <h2>ID token claims</h2>
          <table>
            ${Object.entries(claims).map(
              ([name, value]) =>
                html`<tr>
                  <th>${name}</th>
                  <td>${showClaim(name, value)}</td>
                </tr>`,
            )}
          </table>
          <h2>Userinfo</h2>
          <pre id="userinfo">${JSON.stringify(userinfo, null, 2)}</pre>
          <p><a class="button" href="/login">Log in again</a></p>`,
      );
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError && err.error === 'access_denied') {
        return send(
          res,
          200,
          'Login cancelled',
          html`<p>The login was cancelled at wallet-oidc (<code>access_denied</code>): no one was signed in.</p>
            ${again}`,
        );
      }
      if (err instanceof oidc.AuthorizationResponseError) {
        return send(
          res,
          400,
          'Login refused',
          html`<p>wallet-oidc answered <code>${err.error}</code>: ${err.error_description ?? ''}</p>
            ${again}`,
        );
      }
      console.error('wallet-oidc demo: the callback failed:', err);
      send(
        res,
        502,
        'Login failed',
        html`<p>${err instanceof Error ? err.message : String(err)}</p>
          ${again}`,
      );
    }
  }

  const home = (res: http.ServerResponse) =>
    send(
      res,
      200,
      'wallet-oidc demo',
      html`<p>
          A relying party using <a href="https://github.com/panva/openid-client">openid-client</a> against the issuer <code>${opts.issuer.origin}</code> as
          client <code>${opts.clientId}</code>.
        </p>
        <p><a class="button" href="/login">Log in with wallet</a></p>
        <p class="note">No wallet in this browser? On the login page, choose "Sign without a browser wallet".</p>`,
    );

  async function route(req: http.IncomingMessage, res: http.ServerResponse) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed', html``);
    switch (new URL(req.url ?? '/', opts.redirectUri).pathname) {
      case '/':
        return home(res);
      case '/login':
        return login(res);
      case '/callback':
        return callback(req, res);
      default:
        return send(res, 404, 'Not found', html`<p><a href="/">Home</a></p>`);
    }
  }

  return (req, res) =>
    void route(req, res).catch((err: unknown) => {
      console.error('wallet-oidc demo:', err);
      if (!res.headersSent) send(res, 500, 'Error', html`<p>Something went wrong; see the terminal.</p>`);
    });
}

/** Times as dates too: iat 1767225600 (2026-01-01T00:00:00.000Z). */
function showClaim(name: string, value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return ['iat', 'exp', 'auth_time'].includes(name) && typeof value === 'number' ? `${text} (${new Date(value * 1000).toISOString()})` : text;
}

// HTML: every interpolated value is escaped unless it is itself html`…`.
class Html {
  constructor(readonly text: string) {}
}

function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]) : ''), ''));
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const again = html`<p><a class="button" href="/login">Log in again</a> <a href="/">Home</a></p>`;

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:48rem;padding:0 1rem;color:#222}
code,pre{font:14px ui-monospace,monospace}pre{background:#f4f4f4;padding:1rem;overflow:auto}
table{border-collapse:collapse}th,td{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #ddd;vertical-align:top}
td{font-family:ui-monospace,monospace;word-break:break-all}.note{color:#666}
.button{display:inline-block;background:#3b5bdb;color:#fff;padding:.5rem 1rem;border-radius:.375rem;text-decoration:none}`;

function send(res: http.ServerResponse, status: number, title: string, body: Html): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    // No script at all; the inline <style> is the page's only resource.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'cache-control': 'no-store',
  });
  res.end(
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>${title}</title>
          <style>
            ${new Html(STYLE)}
          </style>
        </head>
        <body>
          <h1>${title}</h1>
          ${body}
        </body>
      </html>`.text,
  );
}
