// The Koa app: health, static assets, the login interaction routes, then oidc-provider for the rest.
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import serve from 'koa-static';
import type Provider from 'oidc-provider';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../logger.ts';
import { createInteractionRouter, type InteractionDeps } from './interaction-routes.ts';

export interface AppDeps extends InteractionDeps {
  db: Db;
  provider: Provider;
  logger: Logger;
  trustProxy: boolean;
  viewsDir: string;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = deps.trustProxy;
  app.silent = true;
  app.on('error', (err: unknown) => deps.logger.error({ err }, 'request failed'));

  const health = new Router();
  // Liveness and readiness in one: answers 200 only when the database answers.
  health.get('/healthz', async (ctx) => {
    try {
      await deps.db.raw('SELECT 1');
      ctx.body = { status: 'ok' };
    } catch (err) {
      deps.logger.error({ err }, 'health check: database unreachable');
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: 'database_unreachable' };
    }
  });
  app.use(health.routes());

  const staticFiles = serve(path.join(deps.viewsDir, 'static'), { maxage: 3600_000, gzip: false, brotli: false });
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/static/')) return next();
    ctx.path = ctx.path.slice('/static'.length);
    await staticFiles(ctx, next);
  });

  const interactions = createInteractionRouter(deps);
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());

  // Everything else is the protocol: oidc-provider answers it on the raw request.
  const protocol = deps.provider.callback();
  app.use(async (ctx) => {
    ctx.respond = false;
    await protocol(ctx.req, ctx.res);
  });
  return app;
}
