// The JSON login API (docs/login-contract.md): POST challenge, then POST verify with the signed
// message. Every refusal answers a stable reason code and is recorded as a login event; every outcome
// is reported to the Observer.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { LoginEvent } from '../observer.ts';
import { subjectFor } from '../oidc/claims.ts';
import { errorBoundary, sendJsonError } from './errors.ts';
import {
  clientOf,
  INTERACTION_PREFIX,
  interactionBody,
  interactionUidShape,
  loadInteraction,
  parseBody,
  redirectUriOf,
  sameOriginPosts,
  saveResult,
} from './interactions.ts';
import { rateLimit } from './rate-limit.ts';

/** ctx.state on these routes: what is known of the attempt so far, for its login event. */
export interface LoginApiState {
  login: Partial<LoginEvent>;
}

const challengeBody = z.object({
  address: z.string().max(64),
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});
const verifyBody = z.object({
  message: z.string().min(1).max(8192),
  // 65-byte ECDSA signatures, 64-byte EIP-2098 compact ones, or longer ones from contract wallets (EIP-1271 / EIP-6492).
  signature: z.string().regex(/^0x([0-9a-fA-F]{2}){64,4096}$/, 'must be a 0x-prefixed hex signature of at least 64 bytes'),
});

export function createLoginApi(app: AppContext): Router<LoginApiState> {
  const { provider, siwe, clock, observer } = app;
  const router = new Router<LoginApiState>({ prefix: INTERACTION_PREFIX });

  const eventBase = (ctx: Context): Pick<LoginEvent, 'interactionUid' | 'ip' | 'userAgent'> => ({
    interactionUid: ctx.params.uid,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent') || undefined,
  });

  /** Audits a refusal; losing the audit row is logged, never turned into a 500. Rate-limited requests write nothing. */
  async function refused(ctx: Context & { state: LoginApiState }, reason: string) {
    const event: LoginEvent = { ...eventBase(ctx), ...ctx.state.login, at: clock(), outcome: 'refused', reason };
    observer.login(event);
    // A flood writes nothing, and neither does an outage: the row could not be written anyway.
    if (reason === 'rate_limited' || reason === 'database_unavailable') return;
    try {
      await app.stores.loginEvents.record(event);
    } catch (err) {
      app.logger.error({ err }, 'could not record a refused login');
    }
  }

  // Before the boundary: a malformed uid is answered by the input gate's boundary, and never audited.
  router.use(interactionUidShape());
  // The error boundary: stable codes as JSON, never a 500 for bad input.
  router.use(async (ctx, next) => {
    ctx.state.login = {};
    await next();
  });
  router.use(
    errorBoundary<Context & { state: LoginApiState }>(app.logger, 'login API', async (ctx, appError) => {
      await refused(ctx, appError.code);
      sendJsonError(ctx, appError);
    }),
  );
  router.use(rateLimit(app.rateLimiter, 'login', app.config.loginRate));
  router.use(sameOriginPosts(app.config.issuer.origin));
  router.use(interactionBody());
  const requireJson = (ctx: Context) => {
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'send application/json');
  };

  router.post('/challenge', async (ctx) => {
    const interaction = await loadInteraction(provider, ctx, 'login');
    const login = ctx.state.login;
    login.clientId = String(interaction.params.client_id);
    const client = await clientOf(provider, interaction.params.client_id);
    requireJson(ctx);
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
    const interaction = await loadInteraction(provider, ctx, 'login');
    const clientId = String(interaction.params.client_id);
    ctx.state.login.clientId = clientId;
    requireJson(ctx);
    const body = parseBody(verifyBody, ctx.request.body);
    // One transaction from consuming the nonce to saving the interaction's result. When the database
    // fails anywhere in between nothing happened: the nonce is unused again, and the page sends the
    // same signed message again. A refusal commits the consumption alone: a failed attempt burns the
    // challenge. Concurrent copies wait on the nonce's row lock; exactly one of them wins.
    const outcome = await app.stores.atomic(async () => {
      try {
        const login = await siwe.verifyLogin({ interactionUid: interaction.uid, message: body.message, signature: body.signature });
        const sub = subjectFor(login.address, login.chainId, app.config.subFormat);
        const at = clock();
        const event: LoginEvent = { ...eventBase(ctx), at, outcome: 'success', clientId, address: login.address, chainId: login.chainId, sub };
        await app.stores.accounts.recordLogin({ sub, address: login.address, walletType: login.walletType, at }, event);
        return { event, redirectTo: await saveResult(interaction, { login: { accountId: sub } }, clock) };
      } catch (err) {
        // 5xx refusals (a verifier that could not ask the chain) are not the attempt's fault: roll back too.
        if (err instanceof AppError && err.status < 500) return { refusal: err };
        throw err;
      }
    });
    if ('refusal' in outcome) throw outcome.refusal;
    observer.login(outcome.event);
    ctx.body = { redirectTo: outcome.redirectTo };
  });

  return router;
}
