// The JSON login API (docs/login-contract.md): POST challenge, then POST verify with the signed
// message, from the login page (its interaction's cookie) or from a phone it handed the login to (http/handoffs.ts). Every refusal answers a stable reason code and is recorded as a login event; every outcome
// is reported to the Observer. Of rate-limited requests only the first per key and window is, so a
// flood cannot become a flood of audit rows.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import type { LoginEvent } from '../observer.ts';
import { subjectFor } from '../oidc/claims.ts';
import { noteRequestClient } from '../request-context.ts';
import { messageAddress } from '../siwe/message.ts';
import { errorBoundary, sendJsonError } from './errors.ts';
import { HANDOFF_PREFIX, handoffSecretShape, type DeviceHandoff, type Handoffs } from './handoffs.ts';
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
import type { RateRule } from './ports.ts';
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

export function createLoginApi(app: AppContext, handoffs: Handoffs): Router<LoginApiState>[] {
  const { siwe, clock, observer } = app;
  const rules = app.config.rateLimits;

  // Bounded: the uid comes from the URL (or the handoff) and the user agent from a header, both the caller's to choose.
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

  /**
   * A router of the contract: `shape` first (a malformed path is answered by the input gate's boundary, and never
   * audited), then the error boundary (stable codes as JSON, never a 500 for bad input), the rate limit per client IP,
   * and the request checks.
   */
  function contractRouter(prefix: string, shape: Middleware, rule: (ctx: Context) => RateRule): Router<LoginApiState> {
    const router = new Router<LoginApiState>({ prefix });
    router.use(shape);
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
    router.use((ctx, next) => rateLimit(app.rateLimiter, rule(ctx))(ctx, next));
    router.use(sameOriginPosts(app.config.issuer.origin));
    router.use(interactionBody());
    return router;
  }

  const requireJson = (ctx: Context) => {
    if (!ctx.is('application/json')) throw new AppError('unsupported_media_type', 'send application/json');
  };

  /** Issues the interaction's challenge for the address and chain the body names. */
  async function challenge(ctx: Context & { state: LoginApiState }, interaction: Interaction) {
    const login = ctx.state.login;
    login.clientId = String(interaction.params.client_id);
    noteRequestClient(login.clientId);
    const client = await clientOf(app.provider, interaction.params.client_id);
    requireJson(ctx);
    const body = parseBody(challengeBody, ctx.request.body);
    Object.assign(login, { address: body.address, chainId: body.chainId });
    const issued = await siwe.issueChallenge({
      interactionUid: interaction.uid,
      clientId: client.clientId,
      clientName: client.clientName,
      redirectUri: redirectUriOf(interaction, client),
      address: body.address,
      chainId: body.chainId,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { message: issued.message, nonce: issued.nonce, expiresAt: issued.expiresAt.toISOString() };
  }

  /**
   * Verifies the signed answer to one of the interaction's challenges and saves the login on the interaction; returns
   * where its browser continues. `alsoOnce` runs inside the transaction once the signature holds, before the account is
   * touched: a refusal there commits only the challenge's use.
   */
  async function verify(ctx: Context & { state: LoginApiState }, interaction: Interaction, alsoOnce?: () => Promise<void>): Promise<string> {
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
        // Known by now for a refusal's event too.
        Object.assign(ctx.state.login, { address: login.address, chainId: login.chainId, sub });
        await alsoOnce?.();
        const at = clock();
        const event: LoginEvent = {
          ...eventBase(ctx),
          ...ctx.state.login,
          at,
          outcome: 'success',
          clientId,
          address: login.address,
          chainId: login.chainId,
          sub,
        };
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
    return outcome.redirectTo;
  }

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
    const decision = await app.rateLimiter.hit(rules.verifyAddress, address.toLowerCase());
    if (!decision.allowed) {
      // The address the message claims (unverified): the key that was refused, for the audit row.
      ctx.state.login.address = address;
      ctx.set('Retry-After', String(decision.retryAfterSeconds));
      throw new RateLimitedError(decision, rules.verifyAddress, 'too many sign-in attempts for this address');
    }
  }

  // The login page's own routes: its interaction comes from its cookie. Polling a handoff has a limit of its own.
  const page = contractRouter(INTERACTION_PREFIX, interactionUidShape(), (ctx) => (ctx.method === 'GET' ? rules.handoffStatus : rules.login));
  page.post('/challenge', async (ctx) => challenge(ctx, await loadInteraction(app.provider, ctx, 'login')));
  page.post('/verify', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx, 'login');
    ctx.body = { redirectTo: await verify(ctx, interaction, () => handoffs.markSignedHere(interaction)) };
  });
  // Signing on another device (http/handoffs.ts): a new link, and where it stands.
  page.post('/handoff', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx, 'login');
    ctx.state.login.clientId = String(interaction.params.client_id);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = await handoffs.offer(interaction);
  });
  page.get('/handoff', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx);
    ctx.state.login.clientId = String(interaction.params.client_id);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await handoffs.status(interaction);
  });

  // The phone's routes: the interaction comes from the handoff its link names, claimed by the first device that asks for a message.
  const phone = contractRouter(HANDOFF_PREFIX, handoffSecretShape(), () => rules.login);
  const noteHandoff = (ctx: Context & { state: LoginApiState }, { handoff }: DeviceHandoff) => {
    ctx.state.login.interactionUid = handoff.interactionUid;
    ctx.state.login.handoff = true;
  };
  phone.post('/challenge', async (ctx) => {
    const claimed = await handoffs.claim(ctx);
    noteHandoff(ctx, claimed);
    await challenge(ctx, claimed.interaction);
  });
  phone.post('/verify', async (ctx) => {
    const mine = await handoffs.mine(ctx);
    noteHandoff(ctx, mine);
    await verify(ctx, mine.interaction, () => handoffs.markSigned(mine.handoff));
    // The login continues on the computer, which learns of it by itself; this device is done.
    ctx.body = { continuesOn: 'computer' };
  });

  return [page, phone];
}

/** How a verify's transaction ended: signed in, refused (the refusal commits the nonce's use), or left the account alone. */
type VerifyOutcome = { event: LoginEvent; boundChain: number | undefined; redirectTo: string } | { refusal: AppError } | { notRecorded: string };

/** Text from the caller fit for an audit row: printable, at most `max` characters, or undefined when empty. */
function boundedText(value: string | undefined, max: number): string | undefined {
  // eslint-disable-next-line no-control-regex
  return value ? value.replace(/[\u0000-\u001f\u007f]/g, '\ufffd').slice(0, max) : undefined;
}
