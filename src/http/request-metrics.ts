// Request latency by route for the metrics: a route template from our routers (`/interaction/:uid/verify`),
// oidc-provider's endpoint name (`token`, `authorization`), `static` or `unmatched`; never a raw path.
import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import type { AppContext } from '../context.ts';
import { currentRequest, noteRequestClient } from '../request-context.ts';

/** oidc-provider's endpoint name for each request it answered (set inside it, read in front). */
const endpoints = new WeakMap<IncomingMessage, string>();

/**
 * oidc-provider's names for its default routes that the gates in front (input checks, rate limits)
 * may answer before it runs; any other request it never saw is `unmatched`.
 */
const GATED_ENDPOINTS: Record<string, string> = {
  '/auth': 'authorization',
  '/token': 'token',
  '/token/introspection': 'introspection',
  '/token/revocation': 'revocation',
  '/session/end': 'end_session',
  '/session/end/confirm': 'end_session_confirm',
  '/device/auth': 'device_authorization',
  '/device': 'code_verification',
};

const routeInFront = (path: string) => (Object.hasOwn(GATED_ENDPOINTS, path) ? GATED_ENDPOINTS[path]! : path.startsWith('/static/') ? 'static' : 'unmatched');

/** Inside oidc-provider (`provider.use`): remembers which of its routes matched, and for the log line its client. */
export const nameEndpoint: Middleware = async (ctx, next) => {
  try {
    await next();
  } finally {
    const name = (ctx as { _matchedRouteName?: string })._matchedRouteName;
    if (name) endpoints.set(ctx.req, name);
    const request = currentRequest();
    if (request) {
      request.route = name ?? request.route;
      noteRequestClient((ctx.oidc as { client?: { clientId: string } } | undefined)?.client?.clientId);
    }
  }
};

/** In front of everything: times the request until its answer is ready, and counts it by route and status. */
export function requestMetrics(deps: Pick<AppContext, 'metrics'>): Middleware {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    let status = 500;
    try {
      await next();
      // With respond = false oidc-provider wrote the answer itself: its status is on the raw response.
      status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
    } catch (err) {
      // Koa answers a thrown error with its status when it is an HTTP one, else 500.
      const thrown = (err as { status?: unknown } | null)?.status;
      if (typeof thrown === 'number' && thrown >= 400 && thrown < 600) status = thrown;
      throw err;
    } finally {
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = typeof matched === 'string' ? matched : (endpoints.get(ctx.req) ?? routeInFront(ctx.path));
      deps.metrics.request(route, ctx.method, status, Number(process.hrtime.bigint() - start) / 1e9);
    }
  };
}
