// The login contract (DESIGN.md): challenge → verify → confirm, or abort; and the pages for each prompt.
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import { AppError, FINAL_REASONS } from '../errors.ts';
import type { AccountStore } from '../db/accounts.ts';
import type { LoginEventStore, LoginEvent } from '../db/login-events.ts';
import type { SiweService, Clock } from '../siwe/challenge.ts';
import type { Logger } from '../logger.ts';
import { subjectFor, type SubFormat } from '../oidc/claims.ts';
import { chainName } from '../config/chains.ts';
import { sendJsonError, toAppError } from './errors.ts';
import { formActionSource, type Pages } from './pages.ts';
import { elsewhereTarget, qrDataUrl, walletDeepLinks } from './deep-links.ts';

export interface InteractionDeps {
  provider: Provider;
  siwe: SiweService;
  accounts: AccountStore;
  loginEvents: LoginEventStore;
  pages: Pages;
  clock: Clock;
  logger: Logger;
  subFormat: SubFormat;
  allowedChains: readonly number[];
  issuerOrigin: string;
}

const challengeBody = z.object({
  address: z.string().max(64),
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
const verifyBody = z.object({
  message: z.string().min(1).max(8192),
  // 65-byte ECDSA signatures, or longer ones from contract wallets (EIP-1271 / EIP-6492).
  signature: z.string().regex(/^0x([0-9a-fA-F]{2}){65,4096}$/, 'must be a 0x-prefixed hex signature'),
});

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}

const wantsJson = (ctx: Context) => ctx.is('application/json') === 'application/json' || ctx.accepts('html', 'json') === 'json';

export function createInteractionRouter(deps: InteractionDeps): Router {
  const { provider, siwe, pages } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });

  // One error boundary: stable codes as JSON for the contract, a page for browsers; never a 500 for
  // bad input. Every refused challenge or verify is recorded as a login event with its reason.
  router.use(async (ctx: Context, next: Next) => {
    ctx.state.login = {} as Partial<LoginEvent>;
    try {
      await next();
    } catch (err) {
      const appError = toAppError(err);
      if (!appError) {
        deps.logger.error({ err, path: ctx.path }, 'interaction route failed');
        throw err;
      }
      const api = /\/(challenge|verify)$/.test(ctx.path);
      if (api && ctx.method === 'POST') await recordRefusal(ctx, appError.code);
      // challenge and verify are JSON APIs; elsewhere a browser (form post, link) gets a page.
      if (!api && !wantsJson(ctx)) {
        ctx.status = appError.status;
        await pages.render(ctx, 'error', { title: pages.texts['error.title'], error: appError.code, description: appError.message });
      } else {
        sendJsonError(ctx, appError);
      }
    }
  });

  async function recordRefusal(ctx: Context, reason: string) {
    try {
      await deps.loginEvents.record({ ...eventBase(ctx), ...(ctx.state.login as Partial<LoginEvent>), at: deps.clock(), outcome: 'refused', reason });
    } catch (err) {
      // The refusal still answers; losing its audit row is logged, not turned into a 500.
      deps.logger.error({ err }, 'could not record a refused login');
    }
  }

  // Cross-site POSTs are refused outright; the interaction cookie is SameSite=Lax as a second fence.
  router.use(async (ctx: Context, next: Next) => {
    const origin = ctx.get('origin');
    if (ctx.method === 'POST' && origin && origin !== deps.issuerOrigin) {
      throw new AppError('invalid_request', 'cross-origin request refused');
    }
    await next();
  });

  router.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '16kb', formLimit: '16kb' }));

  const details = async (ctx: Context, prompt?: 'login' | 'consent') => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new AppError('interaction_not_found', 'this login belongs to another interaction');
    if (prompt && interaction.prompt.name !== prompt) {
      throw new AppError('wrong_prompt', `this login is at the ${interaction.prompt.name} step, not ${prompt}`);
    }
    return interaction;
  };

  /**
   * What provider.interactionResult does, on the interaction we already loaded: it would load it a
   * second time (lib/provider.js). A login result replaces earlier submissions, a consent adds to them.
   */
  const saveResult = async (interaction: Interaction, result: Record<string, unknown>): Promise<string> => {
    interaction.result = 'consent' in result ? { ...interaction.lastSubmission, ...result } : result;
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    return interaction.returnTo;
  };

  const clientOf = async (clientId: unknown) => {
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    if (!client) throw new AppError('invalid_request', 'the client of this login no longer exists');
    return client;
  };

  /** The redirect URI the login ends at; a client with one registered URI may omit it (RFC 6749 §3.1.2.3). */
  const redirectUriOf = (params: Record<string, unknown>, client: { redirectUris?: readonly string[] | undefined }): string => {
    const uri = typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUris?.[0];
    if (!uri) throw new AppError('invalid_request', 'this login has no redirect URI');
    return uri;
  };

  const eventBase = (ctx: Context): Pick<LoginEvent, 'interactionUid' | 'ip' | 'userAgent'> => ({
    interactionUid: ctx.params.uid,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || undefined,
  });

  router.get('/', async (ctx) => {
    const interaction = await details(ctx);
    const client = await clientOf(interaction.params.client_id);
    const common = {
      uid: interaction.uid,
      clientName: client.clientName ?? client.clientId,
      clientUri: client.clientUri,
      clientLogoUri: client.logoUri,
      // OpenID Connect Registration asks the provider to show these to the user when the client gives them.
      clientPolicyUri: client.policyUri,
      clientTosUri: client.tosUri,
    };
    if (interaction.prompt.name === 'login') {
      const chains = deps.allowedChains.map((id) => ({ id, name: chainName(id) }));
      const elsewhere = `${deps.issuerOrigin}/interaction/${interaction.uid}/elsewhere`;
      await pages.render(ctx, 'login', {
        ...common,
        title: pages.texts['login.title'],
        chains,
        // The page's script reads these from data attributes: no inline script under the CSP.
        texts: pages.texts,
        finalReasons: FINAL_REASONS,
        deepLinks: walletDeepLinks(elsewhere),
        qr: await qrDataUrl(elsewhere),
      });
    } else {
      const missing = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
      await pages.render(
        ctx,
        'consent',
        {
          ...common,
          title: pages.texts['consent.title'],
          scopes: missing.missingOIDCScope ?? [],
          claims: missing.missingOIDCClaims ?? [],
          account: interaction.session?.accountId,
        },
        { formActionOrigins: formActionSource(redirectUriOf(interaction.params, client)) },
      );
    }
  });

  // The short link in the deep links and the QR code. It is opened on another device (no cookie), so
  // it looks the interaction up by its uid, which only the page showed, and starts a sign-in there.
  router.get('/elsewhere', async (ctx) => {
    const interaction = await provider.Interaction.find(String(ctx.params.uid));
    if (!interaction) throw new AppError('interaction_not_found', 'this sign-in has ended; start again from the application');
    const client = await clientOf(interaction.params.client_id);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(elsewhereTarget(deps.issuerOrigin, interaction.params, client.initiateLoginUri));
  });

  router.post('/challenge', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const login = ctx.state.login as Partial<LoginEvent>;
    login.clientId = String(interaction.params.client_id);
    const client = await clientOf(interaction.params.client_id);
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'send application/json');
    const body = parseBody(challengeBody, ctx.request.body);
    Object.assign(login, { address: body.address, chainId: body.chainId });
    const challenge = await siwe.issueChallenge({
      interactionUid: interaction.uid,
      clientId: client.clientId,
      clientName: client.clientName,
      redirectUri: redirectUriOf(interaction.params, client),
      address: body.address,
      chainId: body.chainId,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { message: challenge.message, nonce: challenge.nonce, expiresAt: challenge.expiresAt.toISOString() };
  });

  router.post('/verify', async (ctx) => {
    const interaction = await details(ctx, 'login');
    const clientId = String(interaction.params.client_id);
    (ctx.state.login as Partial<LoginEvent>).clientId = clientId;
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'send application/json');
    const body = parseBody(verifyBody, ctx.request.body);
    const login = await siwe.verifyLogin({ interactionUid: interaction.uid, message: body.message, signature: body.signature });
    const sub = subjectFor(login.address, login.chainId, deps.subFormat);
    const at = deps.clock();
    await deps.accounts.recordLogin(
      { sub, address: login.address, walletType: login.walletType, at },
      { ...eventBase(ctx), at, outcome: 'success', clientId, address: login.address, chainId: login.chainId, sub },
    );
    ctx.body = { redirectTo: await saveResult(interaction, { login: { accountId: sub } }) };
  });

  router.post('/confirm', async (ctx) => {
    const interaction = await details(ctx, 'consent');
    const { session, params, prompt, grantId: existingGrantId } = interaction;
    const accountId = session!.accountId;
    const existing = existingGrantId ? await provider.Grant.find(existingGrantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId: String(params.client_id) });
    // A grant that expired while the user read this page is replaced, not a 500. The prompt only
    // listed what it lacked, so the new one also takes everything this request asks for.
    if (existingGrantId && !existing && typeof params.scope === 'string') grant.addOIDCScope(params.scope);
    const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
    if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    await finish(ctx, interaction, { consent: { grantId } });
  });

  const abort = async (ctx: Context) => {
    // An error result replaces any earlier submission (as interactionResult does for errors).
    await finish(ctx, await details(ctx), { error: 'access_denied', error_description: 'End-User aborted interaction' });
  };
  router.get('/abort', abort);
  router.post('/abort', abort);

  /** JSON callers get `{redirectTo}`; form posts and links get a 303 to oidc-provider. */
  async function finish(ctx: Context, interaction: Interaction, result: Record<string, unknown>) {
    const redirectTo = await saveResult(interaction, result);
    if (ctx.method === 'POST' && wantsJson(ctx)) {
      ctx.body = { redirectTo };
    } else {
      ctx.status = 303;
      ctx.redirect(redirectTo);
    }
  }

  return router;
}
