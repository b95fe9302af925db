// Signing on another device: a login page (the desktop) hands its interaction to a phone through a link of its own
// (/handoff/<secret>, shown as a QR code), and continues by itself once the phone has signed. The link carries a
// one-time secret and nothing else: not the interaction's id, nothing of the RP's request. The first device that asks
// for a message to sign claims it (a cookie of its own); any other device is refused. The phone signs the desktop
// interaction's own challenge and saves the login result on it; the desktop, which polls, then resumes the login
// with its own cookies. State is in the database, so any instance answers either side (docs/login-page.md).
import { createHash, randomBytes, randomInt } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { qrDataUrl, walletDeepLinks, type DeepLink } from './deep-links.ts';
import { errorBoundary, setErrorStatus } from './errors.ts';
import { walletLoginData } from './interaction-pages.ts';
import { clientOf } from './interactions.ts';
import type { Handoff } from './ports.ts';

/** The phone's routes: the page, and its challenge and verify. */
export const HANDOFF_PREFIX = '/handoff/:secret';
/** The link's secret: 32 random bytes, base64url. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;
/** The claiming device's own secret, scoped to its link's path. */
const DEVICE_COOKIE = 'wallet_oidc_handoff';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');
const newSecret = () => randomBytes(32).toString('base64url');

/** Six digits in two groups: compared by eye on two screens, never typed. */
const confirmationCode = () => {
  const digits = String(randomInt(0, 1_000_000)).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
};

/** Refuses a path whose secret cannot be a link's before anything looks it up or records it. */
export function handoffSecretShape(): Middleware {
  return async (ctx, next) => {
    if (!SECRET.test(String(ctx.params.secret))) throw new AppError('handoff_not_found', 'this link does not name a sign-in');
    await next();
  };
}

/** What the desktop shows: the link (as text, as a QR code and in wallet apps' deep links) and the confirmation code. */
export interface HandoffOffer {
  link: string;
  code: string;
  /** Until when a device can open it for signing. */
  expiresAt: string;
  qr: string;
  deepLinks: DeepLink[];
}

/** Where the handoff of a desktop's interaction stands; `signed` carries where the desktop continues. */
export type HandoffStatus = { status: 'none' | 'waiting' | 'expired' } | { status: 'opened'; code: string } | { status: 'signed'; redirectTo: string };

/** What a phone's request is about: the handoff, its interaction, and the device's own hash. */
export interface DeviceHandoff {
  handoff: Handoff & { device: string };
  interaction: Interaction;
}

export type Handoffs = ReturnType<typeof createHandoffs>;

export function createHandoffs(app: AppContext) {
  const { clock, config } = app;
  const store = app.stores.handoffs;
  const origin = config.issuer.origin;
  const secureCookie = config.issuer.protocol === 'https:';

  /** The handoff a phone's path names, as it stands; refusals for one no device may use any more. */
  async function named(ctx: Context): Promise<Handoff> {
    const handoff = await store.find(sha256(String(ctx.params.secret)));
    if (!handoff) throw new AppError('handoff_not_found', 'this link is unknown, or your computer shows a newer one; use the code it shows now');
    if (handoff.signedAt) throw new AppError('handoff_used', 'this link was already used to sign in; return to your computer');
    return handoff;
  }

  const deviceOf = (ctx: Context) => {
    const cookie = ctx.cookies.get(DEVICE_COOKIE);
    return cookie ? sha256(cookie) : undefined;
  };

  const taken = () => new AppError('handoff_taken', 'this link was opened on another device first; ask your computer for a new code');
  const expired = () => new AppError('handoff_expired', 'this link expired before it was opened; ask your computer for a new code');

  /** The interaction the handoff continues, while it still waits for its login. */
  async function interactionOf(handoff: Handoff): Promise<Interaction> {
    const interaction = await app.provider.Interaction.find(handoff.interactionUid);
    if (!interaction) throw new AppError('interaction_not_found', 'the sign-in on your computer has ended; start it again there');
    if (interaction.prompt.name !== 'login' || interaction.result) {
      throw new AppError('wrong_prompt', 'the sign-in on your computer has gone past this step; return to your computer');
    }
    return interaction;
  }

  return {
    /** A new link for the desktop's interaction, replacing any earlier one. */
    async offer(interaction: Interaction): Promise<HandoffOffer> {
      const secret = newSecret();
      const createdAt = clock();
      const claimUntil = new Date(createdAt.getTime() + config.handoffTtlSeconds * 1000);
      const code = confirmationCode();
      // The row lasts as long as the interaction: a claimed link may finish the login after claimUntil.
      await store.create({ id: sha256(secret), interactionUid: interaction.uid, code, createdAt, claimUntil, expiresAt: new Date(interaction.exp * 1000) });
      const link = `${origin}/handoff/${secret}`;
      return { link, code, expiresAt: claimUntil.toISOString(), qr: await qrDataUrl(link), deepLinks: walletDeepLinks(link) };
    },

    /** Where the desktop's handoff stands. */
    async status(interaction: Interaction): Promise<HandoffStatus> {
      if (interaction.result?.login) return { status: 'signed', redirectTo: interaction.returnTo };
      const handoff = await store.findByInteraction(interaction.uid);
      if (!handoff) return { status: 'none' };
      if (handoff.device) return { status: 'opened', code: handoff.code };
      return { status: clock() >= handoff.claimUntil ? 'expired' : 'waiting' };
    },

    /** For the phone's page: the handoff and the code, unless no device may use it (never claims: link previews open it too). */
    async view(ctx: Context): Promise<{ handoff: Handoff; interaction: Interaction }> {
      const handoff = await named(ctx);
      if (handoff.device && handoff.device !== deviceOf(ctx)) throw taken();
      if (!handoff.device && clock() >= handoff.claimUntil) throw expired();
      return { handoff, interaction: await interactionOf(handoff) };
    },

    /**
     * For the phone's challenge: the handoff, claimed for this device when nobody has claimed it (the first to ask for a
     * message to sign wins; its cookie then names it), and its interaction.
     */
    async claim(ctx: Context): Promise<DeviceHandoff> {
      const handoff = await named(ctx);
      if (handoff.device) {
        if (handoff.device !== deviceOf(ctx)) throw taken();
        return { handoff: { ...handoff, device: handoff.device }, interaction: await interactionOf(handoff) };
      }
      const interaction = await interactionOf(handoff);
      const secret = newSecret();
      const device = sha256(secret);
      if (!(await store.claim(handoff.id, device, clock()))) {
        throw (await store.find(handoff.id))?.device ? taken() : expired();
      }
      // Set by hand: Koa refuses a Secure cookie on a connection it does not see as TLS (behind a proxy without TRUST_PROXY).
      ctx.append(
        'Set-Cookie',
        `${DEVICE_COOKIE}=${secret}; Path=/handoff/${String(ctx.params.secret)}; Max-Age=${config.ttl.interaction}; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`,
      );
      return { handoff: { ...handoff, device }, interaction };
    },

    /** For the phone's verify: the handoff this device claimed, and its interaction. */
    async mine(ctx: Context): Promise<DeviceHandoff> {
      const handoff = await named(ctx);
      const device = deviceOf(ctx);
      if (!handoff.device || handoff.device !== device) throw taken();
      return { handoff: { ...handoff, device }, interaction: await interactionOf(handoff) };
    },

    /** Inside the login's transaction: the handoff is used once; a second signature through it is refused. */
    async markSigned(handoff: DeviceHandoff['handoff']): Promise<void> {
      if (!(await store.markSigned(handoff.id, handoff.device, clock()))) {
        throw new AppError('handoff_used', 'this link was already used to sign in; return to your computer');
      }
    },

    /**
     * Inside the desktop's own login transaction: its link is used up too, so a phone signing at the same moment is
     * refused (`markSigned`), or the desktop is when the phone signed first; one login result, never two overwriting.
     */
    async markSignedHere(interaction: Interaction): Promise<void> {
      if (!(await store.markSignedHere(interaction.uid, clock()))) {
        throw new AppError('handoff_used', 'this sign-in was already signed on your phone; it continues by itself');
      }
    },
  };
}

/** The phone's page: the application, the confirmation code, and the same wallets and manual signing as the login page. */
export function createHandoffPage(app: AppContext, handoffs: Handoffs): Router {
  const { pages } = app;
  const router = new Router({ prefix: HANDOFF_PREFIX });
  router.use(
    errorBoundary(app.logger, 'handoff page', async (ctx, appError) => {
      setErrorStatus(ctx, appError);
      ctx.set('Cache-Control', 'no-store');
      await pages.render(ctx, 'error', { title: pages.texts['handoff.errorTitle'], error: appError.code, description: appError.message });
    }),
  );
  router.use(handoffSecretShape());
  router.get('/', async (ctx) => {
    const { handoff, interaction } = await handoffs.view(ctx);
    const client = await clientOf(app.provider, interaction.params.client_id);
    const link = `${app.config.issuer.origin}/handoff/${String(ctx.params.secret)}`;
    ctx.set('Cache-Control', 'no-store');
    await pages.render(ctx, 'handoff', {
      title: pages.texts['handoff.title'],
      clientName: client.clientName ?? client.clientId,
      clientUri: client.clientUri,
      clientLogoUri: client.logoUri,
      clientPolicyUri: client.policyUri,
      clientTosUri: client.tosUri,
      code: handoff.code,
      api: `/handoff/${String(ctx.params.secret)}`,
      // Until the link is claimed, the page says when it stops working: in milliseconds from now, as the phone's own
      // clock may be off by more than the whole window.
      claimMs: handoff.device ? undefined : handoff.claimUntil.getTime() - app.clock().getTime(),
      deepLinks: walletDeepLinks(link),
      ...walletLoginData(app),
    });
  });
  return router;
}
