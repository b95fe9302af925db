// Renders our pages (views/*.ejs) with a strict Content-Security-Policy, and the pages oidc-provider shows.
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import ejs from 'ejs';
import helmet from 'helmet';
import type { Context } from 'koa';
import type { ProviderPages } from '../oidc/provider.ts';

export interface Pages {
  render(ctx: Context | { req: IncomingMessage; res: ServerResponse; status: number; type: string; body: unknown }, view: string, data: Record<string, unknown>, opts?: { formActionOrigins?: string[] }): Promise<void>;
  provider: ProviderPages;
}

type Locals = { formActionOrigins?: string[] };

export function createPages(opts: { viewsDir: string; productName: string }): Pages {
  // No inline script or style, no third-party origin, never framed (the signing page must not be clickjacked).
  const headers = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        // A form's redirects count too: consent and logout forms end at the client's origin.
        formAction: ["'self'", (_req, res) => ((res as ServerResponse & { locals?: Locals }).locals?.formActionOrigins ?? []).join(' ')],
      },
    },
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own form posts.
    referrerPolicy: { policy: 'same-origin' },
  });

  const render: Pages['render'] = async (ctx, view, data, renderOpts = {}) => {
    (ctx.res as ServerResponse & { locals?: Locals }).locals = { formActionOrigins: renderOpts.formActionOrigins ?? [] };
    await new Promise<void>((resolve, reject) => headers(ctx.req, ctx.res, (err?: unknown) => (err ? reject(err) : resolve())));
    ctx.type = 'html';
    ctx.body = await ejs.renderFile(path.join(opts.viewsDir, `${view}.ejs`), { productName: opts.productName, ...data }, { cache: true, async: false });
  };

  const originOf = (uri: unknown): string[] => {
    try {
      return typeof uri === 'string' ? [new URL(uri).origin] : [];
    } catch {
      return [];
    }
  };

  return {
    render,
    provider: {
      async error(ctx, out, error) {
        ctx.status = (error as { statusCode?: number })?.statusCode ?? ctx.status ?? 400;
        await render(ctx, 'error', { title: 'Sign-in failed', error: out.error, description: out.error_description });
      },
      async logout(ctx, form) {
        const clientName = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
        await render(ctx, 'logout', { form, clientName, host: ctx.host }, { formActionOrigins: originOf(ctx.oidc.params?.post_logout_redirect_uri) });
      },
      async logoutSuccess(ctx) {
        const clientName = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
        await render(ctx, 'logout-success', { clientName });
      },
    },
  };
}
