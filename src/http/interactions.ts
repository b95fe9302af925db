// What the login API and the interaction pages share: loading the interaction a request names,
// saving its result, its client and redirect URI, and the request checks both apply.
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import type { z } from 'zod';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { DEVICE_ROUTES } from '../oidc/provider.ts';
import { checkParsedBody } from './input-gate.ts';

/** Every interaction route is under this prefix; `:uid` is oidc-provider's interaction id. */
export const INTERACTION_PREFIX = '/interaction/:uid';

/** oidc-provider's interaction ids: nanoid(), 43 characters of the URL-safe alphabet (lib/helpers/nanoid.js). */
const INTERACTION_UID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Refuses a path whose uid cannot be an interaction's before anything looks it up or records it: no
 * database read, no login event, no rate-limit count.
 */
export function interactionUidShape(): Middleware {
  return async (ctx, next) => {
    if (!INTERACTION_UID.test(String(ctx.params.uid))) throw new AppError('interaction_not_found', 'this link does not name a sign-in');
    await next();
  };
}

export const wantsJson = (ctx: Context): boolean => ctx.is('application/json') === 'application/json' || ctx.accepts('html', 'json') === 'json';

/** The interaction of this browser (its cookie), which must be the one the path names, at `prompt` when given. */
export async function loadInteraction(provider: Provider, ctx: Context, prompt?: 'login' | 'consent'): Promise<Interaction> {
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) throw new AppError('interaction_not_found', 'this login belongs to another interaction');
  if (prompt && interaction.prompt.name !== prompt) {
    throw new AppError('wrong_prompt', `this login is at the ${interaction.prompt.name} step, not ${prompt}`);
  }
  return interaction;
}

/**
 * What provider.interactionResult does, on the interaction we already loaded: it would load it a
 * second time (lib/provider.js). A login result replaces earlier submissions, a consent adds to them.
 * Returns where the browser continues.
 */
export async function saveResult(interaction: Interaction, result: Record<string, unknown>, clock: Clock): Promise<string> {
  interaction.result = 'consent' in result ? { ...interaction.lastSubmission, ...result } : result;
  await interaction.save(interaction.exp - Math.floor(clock().getTime() / 1000));
  return interaction.returnTo;
}

export async function clientOf(provider: Provider, clientId: unknown) {
  const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
  if (!client) throw new AppError('invalid_request', 'the client of this login no longer exists');
  return client;
}

/**
 * Where the login ends: the redirect URI (a client with one registered URI may omit it, RFC 6749 §3.1.2.3), or for a
 * device login (RFC 8628), which has none, the verification URI the person opened. oidc-provider gives an interaction a
 * `deviceCode` only when it starts at the verification URI, and sends it back there (`returnTo`, the device_resume route;
 * lib/actions/authorization/interactions.js): that marks a device login, whatever its client registered.
 */
export function redirectUriOf(
  interaction: Pick<Interaction, 'params' | 'deviceCode' | 'returnTo'>,
  client: { redirectUris?: readonly string[] | undefined },
): string {
  if (interaction.deviceCode) return new URL(DEVICE_ROUTES.verification, interaction.returnTo).href;
  const { params } = interaction;
  const uri = typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUris?.[0];
  if (!uri) throw new AppError('invalid_request', 'this login has no redirect URI');
  return uri;
}

/** Cross-site POSTs are refused outright; the interaction cookie is SameSite=Lax as a second fence. */
export function sameOriginPosts(issuerOrigin: string): Middleware {
  return async (ctx, next) => {
    const origin = ctx.get('origin');
    if (ctx.method === 'POST' && origin && origin !== issuerOrigin) throw new AppError('invalid_request', 'cross-origin request refused');
    await next();
  };
}

/**
 * JSON for the contract, forms for the consent page; small bodies only. Compressed bodies never get
 * here (the input gate refuses any Content-Encoding), and no string in a body may hold a control
 * character other than HT, LF and CR, nor an unpaired surrogate.
 */
export function interactionBody(): Middleware {
  const parse = bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '16kb', formLimit: '16kb' });
  return (ctx, next) =>
    parse(ctx, () => {
      checkParsedBody(ctx.request.body);
      return next();
    });
}

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}
