// The Koa app: the input gate, health, static assets, the login interaction routes, then oidc-provider for the rest.
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import serve from 'koa-static';
import type { AppContext } from '../context.ts';
import { RETRY_AFTER_SECONDS } from '../errors.ts';
import { checkProtocolInput, inputGate } from './input-gate.ts';
import { createInteractionPages } from './interaction-pages.ts';
import { createHandoffPage, createHandoffs } from './handoffs.ts';
import { createLoginApi } from './login-api.ts';
import { createProtocolGate } from './protocol-gate.ts';
import { protocolRequest } from './protocol-request.ts';
import { nameEndpoint, requestMetrics } from './request-metrics.ts';
import { requestLog } from './request-log.ts';
import type { Shutdown } from './shutdown.ts';

export interface AppOptions {
  /** The server's shutdown (./shutdown.ts): while it drains, `/readyz` answers 503 `shutting_down`. */
  shutdown?: Pick<Shutdown, 'draining'>;
}

type ProviderCallback = ReturnType<AppContext['provider']['callback']>;
const callbacks = new WeakMap<object, ProviderCallback>();
/**
 * oidc-provider's request handler, with our middleware added: once per Provider, however many apps are built over
 * one context. The context replaces its Provider when the signing keys change; each new one is wired at its first request.
 */
function callbackOf(provider: AppContext['provider'], wire: (provider: AppContext['provider']) => void): ProviderCallback {
  let callback = callbacks.get(provider);
  if (!callback) {
    // Before callback(): Koa composes an app's middleware when its callback is made.
    wire(provider);
    callback = provider.callback();
    callbacks.set(provider, callback);
  }
  return callback;
}

export function createApp(deps: AppContext, opts: AppOptions = {}): Koa {
  const app = new Koa();
  app.proxy = deps.config.trustProxy;
  // Only the entries our own proxies added to X-Forwarded-For (TRUST_PROXY hops, counted from the end)
  // are read: ctx.ip is the address the outermost one saw, never an entry the client wrote itself.
  app.maxIpsCount = deps.config.proxyHops;
  app.silent = true;
  app.on('error', (err: unknown) => {
    // A client's error is answered (a 4xx) or its connection is gone (a request cut short, a reset): not a failure of ours.
    const { status, expose, code, message } = err as { status?: number; expose?: boolean; code?: string; message?: string };
    const clientFault = (expose && typeof status === 'number' && status < 500) || code?.startsWith('HPE_') || code === 'ECONNRESET';
    if (clientFault) deps.logger.debug({ status, code, message }, 'request refused or cut short');
    else deps.logger.error({ err }, 'request failed');
  });
  // Around everything, the input gate's refusals included: one line per request, and its id on every answer.
  app.use(requestLog(deps.logger, deps.config.trustProxy));
  // Outermost, so refusals by the input gate are timed and counted too.
  app.use(requestMetrics(deps));
  // Before anything reads the request: malformed input never reaches a route, oidc-provider or the database.
  app.use(inputGate());

  const health = new Router();
  // Liveness: the process answers. Nothing outside it is asked, so an outage never restarts it.
  health.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  // Readiness: not shutting down, the database answers, every migration is applied and the signing keys are there.
  health.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // First, and without asking the database: a load balancer must stop sending requests as soon as the drain begins.
    // Not logged at each probe: the shutdown's own lines say it.
    if (opts.shutdown?.draining) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: 'shutting_down' };
      return;
    }
    const problem = await deps.checkReadiness();
    if (!problem) {
      ctx.body = { status: 'ok' };
      return;
    }
    // Expected while the database is away: one line with its cause, no stack, at every probe.
    deps.logger.warn({ reason: problem.reason, cause: problem.cause }, 'not ready');
    ctx.status = 503;
    ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    ctx.body = { status: 'unavailable', error: problem.reason };
  });

  // The issuer's own URL: what a person who opens it needs to know, or where discovery is for a program.
  health.get('/', async (ctx) => {
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { issuer: deps.config.issuer.origin, discovery: `${deps.config.issuer.origin}/.well-known/openid-configuration` };
      return;
    }
    await deps.pages.render(ctx, 'home', { title: deps.pages.texts['home.title'] });
  });

  // The operator's colours (BRAND_COLOR) as a stylesheet: CSP forbids inline styles.
  health.get('/static/brand.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = deps.pages.brandCss;
  });
  app.use(health.routes());

  // The page script is several ES modules that must come from one deploy: browsers revalidate every
  // file (no-cache) and get 304 Not Modified while it is unchanged, never a mix of old and new modules.
  const staticFiles = serve(path.join(deps.pages.viewsDir, 'static'), {
    gzip: false,
    brotli: false,
    setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
  });
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/static/')) return next();
    ctx.path = ctx.path.slice('/static'.length);
    await staticFiles(ctx, next);
    if (ctx.status === 200 && ctx.fresh) {
      (ctx.body as { destroy?: () => void } | null)?.destroy?.();
      ctx.status = 304;
      ctx.body = null;
    }
  });

  const handoffs = createHandoffs(deps);
  for (const router of [...createLoginApi(deps, handoffs), createInteractionPages(deps), createHandoffPage(deps, handoffs)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  // Everything else is the protocol: oidc-provider answers it on the raw request. Its endpoint URLs
  // (discovery, redirects) derive from the request's host and scheme, so both are pinned to ISSUER:
  // a forged Host or X-Forwarded-* header can never make us advertise another origin.
  // Malformed form bodies and credentials are refused before anything counts them or reads the database.
  app.use(async (ctx, next) => {
    const { body } = await protocolRequest(ctx);
    checkProtocolInput(ctx.get('authorization') || undefined, body);
    await next();
  });
  const gate = createProtocolGate(deps);
  app.use(gate.gate);
  const wire = (provider: AppContext['provider']) => {
    provider.use(nameEndpoint);
    provider.use(gate.countFailures);
  };
  // Wired now, so a bad wiring fails at start-up rather than at the first request.
  callbackOf(deps.provider, wire);
  const issuer = deps.config.issuer;
  app.use(async (ctx) => {
    // The gate in front may have read a form body already; oidc-provider gets it replayed, unread.
    const { req } = await protocolRequest(ctx);
    ctx.respond = false;
    req.headers.host = issuer.host;
    delete req.headers['x-forwarded-host'];
    if (deps.config.trustProxy) req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
    else delete req.headers['x-forwarded-proto'];
    // The Provider of the current signing keys (a request already running keeps the one it started on).
    await callbackOf(deps.provider, wire)(req, ctx.res);
  });
  return app;
}
