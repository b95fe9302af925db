// Renders our pages (views/*.ejs) with a strict Content-Security-Policy, and the pages oidc-provider shows.
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import ejs from 'ejs';
import helmet from 'helmet';
import type { Context } from 'koa';
import type { Config } from '../config/index.ts';
import { buttonText, contrastRatio, MIN_NON_TEXT_CONTRAST, SCHEMES } from '../config/contrast.ts';
import type { ProviderPages } from '../oidc/provider.ts';
import { createDevicePages } from './device-pages.ts';

/** Every text a page shows, by key (views/i18n/<lang>.json); `{name}` placeholders are filled by `t`. */
export type Texts = Record<string, string>;

export function loadTexts(viewsDir: string, lang = 'en'): Texts {
  return JSON.parse(fs.readFileSync(path.join(viewsDir, 'i18n', `${lang}.json`), 'utf8')) as Texts;
}

export function translate(texts: Texts, key: string, values: Record<string, string> = {}): string {
  const text = texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? `{${name}}`);
}

/**
 * The operator's colour paints the primary buttons in both colour schemes; their text is white or
 * near-black, whichever contrasts more (configuration makes sure that reaches 4.5:1). Where the
 * colour barely stands out from the card (navy on the dark card, pale yellow on the white one), the
 * button keeps the ordinary control border so its edge still shows at 3:1. Links and focus rings
 * keep the page's own colours, which are chosen for contrast against each scheme's background.
 */
export function brandStylesheet(color: string): string {
  const rule = (scheme: keyof typeof SCHEMES) => {
    const { card, control } = SCHEMES[scheme];
    const border = contrastRatio(color, card) >= MIN_NON_TEXT_CONTRAST ? color : control;
    return `:root { --accent: ${color}; --accent-fg: ${buttonText(color).color}; --accent-border: ${border}; }`;
  };
  return `${rule('light')}\n@media (prefers-color-scheme: dark) { ${rule('dark')} }\n`;
}

/**
 * The CSP form-action source that lets a form's redirect reach `uri`: its origin, or for a native
 * app's private-use scheme (`com.example.app:/cb`, RFC 8252), whose origin is opaque, the scheme.
 */
export function formActionSource(uri: unknown): string[] {
  if (typeof uri !== 'string') return [];
  try {
    const url = new URL(uri);
    return [url.origin === 'null' ? url.protocol : url.origin];
  } catch {
    return [];
  }
}

export interface Pages {
  /** The operator's colour as CSS custom properties, served at /static/brand.css. */
  brandCss: string;
  texts: Texts;
  /** Where the views, their texts and /static/ files are. */
  viewsDir: string;
  render(
    ctx: Context | { req: IncomingMessage; res: ServerResponse; status: number; type: string; body: unknown },
    view: string,
    data: Record<string, unknown>,
    opts?: { formActionOrigins?: string[] },
  ): Promise<void>;
  provider: ProviderPages;
}

type Locals = { formActionOrigins?: string[] };

export function createPages(opts: { viewsDir: string; brand: Config['brand'] }): Pages {
  const texts = loadTexts(opts.viewsDir);
  const t = (key: string, values?: Record<string, string>) => translate(texts, key, values);
  const brandCss = opts.brand.color ? brandStylesheet(opts.brand.color) : '';
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
    ctx.body = await ejs.renderFile(
      path.join(opts.viewsDir, `${view}.ejs`),
      { productName: opts.brand.productName, logoUrl: opts.brand.logoUrl, t, ...data },
      { cache: true, async: false },
    );
  };

  return {
    brandCss,
    viewsDir: opts.viewsDir,
    texts,
    render,
    provider: {
      async error(ctx, out, error) {
        ctx.status = (error as { statusCode?: number })?.statusCode ?? ctx.status ?? 400;
        await render(ctx, 'error', { title: t('error.title'), error: out.error, description: out.error_description });
      },
      async logout(ctx, form) {
        const clientName = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
        await render(
          ctx,
          'logout',
          { title: t('logout.title'), form, clientName, host: ctx.host },
          { formActionOrigins: formActionSource(ctx.oidc.params?.post_logout_redirect_uri) },
        );
      },
      async logoutSuccess(ctx) {
        const clientName = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId;
        await render(ctx, 'logout-success', { title: t('logoutSuccess.title'), clientName });
      },
      ...createDevicePages(render, t),
    },
  };
}
