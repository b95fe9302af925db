// The gate in front of oidc-provider's endpoints: a rate limit per client IP on each endpoint that
// starts work (an interaction, a token, a logout), and for the endpoints that authenticate a client
// (token, introspection, revocation) a backoff and then a lockout per client id after failed
// authentications. Refusals answer 429 with Retry-After in OAuth's error shape, before oidc-provider runs.
// A device code polled sooner than its interval answers 400 slow_down (RFC 8628 §3.5), which oidc-provider defines
// (errors.SlowDown) but never raises.
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import type { AppContext } from '../context.ts';
import { isDatabaseUnavailable } from '../errors.ts';
import { DEVICE_ROUTES } from '../oidc/provider.ts';
import { hashTokenId } from '../oidc/token-ids.ts';
import type { RateDecision, RateRule } from './ports.ts';
import { protocolRequest } from './protocol-request.ts';

type Limits = AppContext['config']['rateLimits'];

/** The rule for a request to oidc-provider, by method and path (oidc-provider's default routes). */
function ruleFor(method: string, path: string, limits: Limits): RateRule | undefined {
  // oidc-provider's router answers HEAD with the GET route (lib/helpers/router.js): it starts the same work.
  const getOrPost = method === 'GET' || method === 'HEAD' || method === 'POST';
  if (path === '/auth') return getOrPost ? limits.authorization : undefined;
  if (path === '/session/end') return getOrPost ? limits.endSession : undefined;
  // The verification page: each GET keeps a form secret for a while (oidc/adapter.ts), each POST tries a user code,
  // so this also bounds guessing them (RFC 8628 §5.1).
  if (path === DEVICE_ROUTES.verification) return getOrPost ? limits.userCode : undefined;
  if (method !== 'POST') return undefined;
  if (path === '/session/end/confirm') return limits.endSession;
  if (path === DEVICE_ROUTES.deviceAuthorization) return limits.deviceAuthorization;
  if (path === '/token') return limits.token;
  if (path === '/token/introspection') return limits.introspection;
  if (path === '/token/revocation') return limits.revocation;
  return undefined;
}

/**
 * The endpoint a path reaches: oidc-provider's router matches paths case-insensitively and with one trailing slash
 * (lib/helpers/router.js), so `/TOKEN` and `/device/` are `/token` and `/device`, and must be limited as they are.
 */
const endpointOf = (path: string) => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();

const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation']);

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** As RFC 6749 §2.3.1 encodes Basic credentials (form encoding); oidc-provider decodes them the same way. */
const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, '%20'));

/**
 * The client id a request authenticates as, read as oidc-provider reads it: the Basic header, the
 * `client_id` parameter, or a client assertion's `sub` (decoded, not verified: it only names the key
 * counted). Undefined when none can be read; oidc-provider then refuses the request itself.
 */
export function claimedClientId(ctx: Context, params: URLSearchParams): string | undefined {
  const [scheme, credentials] = ctx.get('authorization').split(' ');
  if (scheme?.toLowerCase() === 'basic' && credentials) {
    const basic = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = basic.indexOf(':');
    if (colon > 0) {
      try {
        return formDecode(basic.slice(0, colon));
      } catch {
        return undefined;
      }
    }
  }
  const clientId = params.get('client_id');
  if (clientId) return clientId;
  const assertion = params.get('client_assertion')?.split('.')[1];
  if (!assertion) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(assertion, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    return typeof sub === 'string' && sub ? sub : undefined;
  } catch {
    return undefined;
  }
}

function refuse(ctx: Context, decision: Extract<RateDecision, { allowed: false }>, description: string): void {
  ctx.status = 429;
  ctx.set('Retry-After', String(decision.retryAfterSeconds));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'rate_limited', error_description: `${description}; try again in ${decision.retryAfterSeconds} s` };
}

/** The client id each request handed to oidc-provider claims, by that request (the gate sets, countFailures reads). */
const claimed = new WeakMap<IncomingMessage, string>();

export interface ProtocolGate {
  /** In front of oidc-provider (our Koa app): limits per client IP, and the client id's backoff or lockout. */
  gate: Middleware;
  /**
   * Inside oidc-provider (`provider.use`): counts a failed client authentication before the answer
   * is sent, so the next request already sees it.
   */
  countFailures: Middleware;
}

export function createProtocolGate(deps: AppContext): ProtocolGate {
  const { logger } = deps;
  // The counters are in the database. While it is away the request goes on to oidc-provider, which
  // answers the outage in its own shape (a page, a redirect to the client, or JSON; oidc/unavailable.ts).
  const unlessOutage = async (call: () => Promise<RateDecision>): Promise<RateDecision> => {
    try {
      return await call();
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      logger.warn({ err }, 'rate limits not counted: database unavailable');
      return { allowed: true };
    }
  };
  const rateLimiter = {
    hit: (rule: RateRule, key: string) => unlessOutage(() => deps.rateLimiter.hit(rule, key)),
    check: (rule: RateRule, key: string) => unlessOutage(() => deps.rateLimiter.check(rule, key)),
  };
  const limits = deps.config.rateLimits;
  const clientRules = [limits.clientAuthFailures, limits.clientLockout];

  const gate: Middleware = async (ctx, next) => {
    const path = endpointOf(ctx.path);
    const rule = ruleFor(ctx.method, path, limits);
    if (!rule) return next();
    const byIp = await rateLimiter.hit(rule, ctx.ip);
    if (!byIp.allowed) {
      deps.metrics.rateLimited(rule.name);
      // One line per address and window: the refusals themselves are the flood.
      if (byIp.first) logger.warn({ ip: ctx.ip, rule: rule.name }, 'rate limit reached');
      return refuse(ctx, byIp, 'too many requests from this address');
    }
    // Already read, and checked, by the input check in front (app.ts).
    const request = await protocolRequest(ctx);
    const deviceCode = path === '/token' && request.params.get('grant_type') === DEVICE_CODE_GRANT && request.params.get('device_code');
    if (deviceCode) {
      // Counted by the code's hash, as it is stored (oidc/token-ids.ts): the code itself is never a key, a row or a log field.
      const poll = await rateLimiter.hit(limits.devicePoll, hashTokenId(deviceCode));
      // A 400 in the protocol's own flow, not a 429: not counted as a rate-limit refusal in the metrics.
      if (!poll.allowed) {
        ctx.status = 400;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { error: 'slow_down', error_description: `poll at most every ${limits.devicePoll.windowSeconds} s; wait ${poll.retryAfterSeconds} s` };
        return;
      }
    }
    if (!CLIENT_AUTH_PATHS.has(path) || !clientRules.some((r) => r.limit > 0)) return next();

    const clientId = claimedClientId(ctx, request.params);
    if (!clientId) return next();
    // Checked before oidc-provider compares any secret: while a client id is refused, the right secret is too.
    const decisions = await Promise.all(clientRules.map((r) => rateLimiter.check(r, clientId)));
    const refusedBy = decisions.findIndex((d) => !d.allowed);
    const refused = decisions[refusedBy];
    if (refused && !refused.allowed) {
      deps.metrics.rateLimited(clientRules[refusedBy]!.name);
      return refuse(ctx, refused, 'too many failed authentications for this client');
    }
    claimed.set(request.req, clientId);
    await next();
  };

  const countFailures: Middleware = async (ctx, next) => {
    await next();
    const clientId = claimed.get(ctx.req);
    // oidc-provider answers a failed client authentication, and only that, with 401 invalid_client on these endpoints.
    if (clientId === undefined || ctx.status !== 401) return;
    const decisions = await Promise.all(clientRules.map((r) => rateLimiter.hit(r, clientId)));
    decisions.forEach((decision, i) => {
      if (!decision.allowed && decision.first) {
        const fields = { clientId: clientId.slice(0, 128), ip: ctx.ip, rule: clientRules[i]!.name, retryAfterSeconds: decision.retryAfterSeconds };
        logger.warn(fields, 'client id refused after failed authentications');
      }
    });
  };

  return { gate, countFailures };
}
