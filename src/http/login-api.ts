// The JSON login API (docs/login-contract.md): POST challenge, then POST verify with the signed
// message. Every refusal answers a stable reason code and is recorded as a login event; every outcome
// is reported to the Observer. Of rate-limited requests only the first per key and window is, so a
// flood cannot become a flood of audit rows.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { LoginEvent } from '../observer.ts';
import { subjectFor } from '../oidc/claims.ts';
import { noteRequestClient } from '../request-context.ts';
import { messageAddress } from '../siwe/message.ts';
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
import { rateLimit, RateLimitedError } from './rate-limit.ts';

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
  const { siwe, clock, observer } = app;
  const router = new Router<LoginApiState>({ prefix: INTERACTION_PREFIX });

  // Bounded: the uid comes from the URL and the user agent from a header, both the caller's to choose.
  const eventBase = (ctx: Context): Pick<LoginEvent, 'interactionUid' | 'ip' | 'userAgent'> => ({
    interactionUid: boundedText(ctx.params.uid, 64),
    ip: ctx.ip,
    userAgent: boundedText(ctx.get('user-agent'), 512),
  });

  /**
   * Audits a refusal and reports it; losing the audit row is logged, never turned into a 500. A rate
   * limit's refusal is audited and reported once per key and window (the first), never per request.
   */
  async function refused(ctx: Context & { state: LoginApiState }, err: AppError) {
    // Every refusal counts in the metrics, which cost no row.
    if (err instanceof RateLimitedError) app.metrics.rateLimited(err.rule);
    if (err instanceof RateLimitedError && !err.first) return;
    const event: LoginEvent = { ...eventBase(ctx), ...ctx.state.login, at: clock(), outcome: 'refused', reason: err.code };
    observer.login(event);
    // A database outage writes nothing: the row could not be written anyway.
    if (err.code === 'database_unavailable') return;
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
      await refused(ctx, appError);
      sendJsonError(ctx, appError);
    }),
  );
  router.use(rateLimit(app.rateLimiter, app.config.rateLimits.login));
  router.use(sameOriginPosts(app.config.issuer.origin));
  router.use(interactionBody());
  const requireJson = (ctx: Context) => {
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'send application/json');
  };

  router.post('/challenge', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx, 'login');
    const login = ctx.state.login;
    login.clientId = String(interaction.params.client_id);
    noteRequestClient(login.clientId);
    const client = await clientOf(app.provider, interaction.params.client_id);
    requireJson(ctx);
    const body = parseBody(challengeBody, ctx.request.body);
    Object.assign(login, { address: body.address, chainId: body.chainId });
    const challenge = await siwe.issueChallenge({
      interactionUid: interaction.uid,
      clientId: client.clientId,
      clientName: client.clientName,
      redirectUri: redirectUriOf(interaction, client),
      address: body.address,
      chainId: body.chainId,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { message: challenge.message, nonce: challenge.nonce, expiresAt: challenge.expiresAt.toISOString() };
  });

  router.post('/verify', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx, 'login');
    const clientId = String(interaction.params.client_id);
    ctx.state.login.clientId = clientId;
    noteRequestClient(clientId);
    requireJson(ctx);
    const body = parseBody(verifyBody, ctx.request.body);
    await limitAddress(ctx, body.message);
    // Before the transaction: a signature only the chain can prove is asked there now (up to RPC_TIMEOUT_MS), so no
    // pooled connection or row lock waits on the network. A chain that cannot be asked answers 503 here, nothing used up.
    const proof = await siwe.proveSignature({ interactionUid: interaction.uid, message: body.message, signature: body.signature });
    // One transaction from consuming the nonce to saving the interaction's result. When the database
    // fails anywhere in between nothing happened: the nonce is unused again, and the page sends the
    // same signed message again. A refusal commits the consumption alone: a failed attempt burns the
    // challenge. Concurrent copies wait on the nonce's row lock; exactly one of them wins.
    const outcome = await app.stores.atomic(async (): Promise<VerifyOutcome> => {
      try {
        const login = await siwe.verifyLogin({ interactionUid: interaction.uid, message: body.message, signature: body.signature, proof });
        const sub = subjectFor(login.address, login.chainId, login.walletType, app.config.subFormat);
        const at = clock();
        const event: LoginEvent = { ...eventBase(ctx), at, outcome: 'success', clientId, address: login.address, chainId: login.chainId, sub };
        // Known by now for a refusal's event too.
        Object.assign(ctx.state.login, { address: login.address, chainId: login.chainId, sub });
        const account = await app.stores.accounts.recordLogin({ sub, address: login.address, walletType: login.walletType, at }, event);
        // The account's row lock orders this against `accounts disable`: a disable that committed first is refused here;
        // after one that commits later, findAccount (oidc/claims.ts) refuses the session and tokens this login goes on to make.
        // Why is read after the commit: the account store reads outside this transaction (on PGlite it would wait on it).
        if (!account) return { notRecorded: sub };
        const boundChain = login.walletType === 'contract' ? login.chainId : undefined;
        return { event, boundChain, redirectTo: await saveResult(interaction, { login: { accountId: sub } }, clock) };
      } catch (err) {
        // 5xx refusals are not the attempt's fault: roll back too.
        if (err instanceof AppError && err.status < 500) return { refusal: err };
        throw err;
      }
    });
    if ('notRecorded' in outcome) throw await whyNotRecorded(outcome.notRecorded);
    if ('refusal' in outcome) throw outcome.refusal;
    observer.login(outcome.event);
    // Not awaited: the name is resolved off the login path (ENS: src/ens/names.ts).
    app.nameResolver.prepare?.(outcome.event.address!, outcome.boundChain);
    ctx.body = { redirectTo: outcome.redirectTo };
  });

  /** Why recordLogin left an account as it was: disabled, or signed in another way (another wallet type under one sub). */
  async function whyNotRecorded(sub: string): Promise<AppError> {
    const account = await app.stores.accounts.find(sub);
    if (account && !account.disabledAt) {
      return new AppError(
        'wallet_type_mismatch',
        `this account signs in as ${account.walletType === 'eoa' ? 'an ordinary wallet' : 'a contract wallet'}; use that`,
      );
    }
    return new AppError('account_disabled', 'this account is disabled; contact the operator of this service');
  }

  /**
   * Counts a verify against the address its message names (EIP-4361 §2: the second line), before the
   * nonce or any signature work, so one wallet cannot be hammered from many IPs. A message without one
   * counts nothing here: verifyLogin refuses it at once.
   */
  async function limitAddress(ctx: Context & { state: LoginApiState }, message: string) {
    const address = messageAddress(message);
    if (!address) return;
    const decision = await app.rateLimiter.hit(app.config.rateLimits.verifyAddress, address.toLowerCase());
    if (!decision.allowed) {
      // The address the message claims (unverified): the key that was refused, for the audit row.
      ctx.state.login.address = address;
      ctx.set('Retry-After', String(decision.retryAfterSeconds));
      throw new RateLimitedError(decision, app.config.rateLimits.verifyAddress, 'too many sign-in attempts for this address');
    }
  }

  return router;
}

/** How a verify's transaction ended: signed in, refused (the refusal commits the nonce's use), or left the account alone. */
type VerifyOutcome = { event: LoginEvent; boundChain: number | undefined; redirectTo: string } | { refusal: AppError } | { notRecorded: string };

/** Text from the caller fit for an audit row: printable, at most `max` characters, or undefined when empty. */
function boundedText(value: string | undefined, max: number): string | undefined {
  // eslint-disable-next-line no-control-regex
  return value ? value.replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, max) : undefined;
}
