// The interaction pages: the login page (the wallet signs through the login API), consent and its
// Allow, and cancel. Browsers get pages; JSON callers get JSON. A phone's page for a login handed to it is handoffs.ts.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Interaction } from 'oidc-provider';
import type { AppContext } from '../context.ts';
import { FINAL_REASONS } from '../errors.ts';
import { chainName } from '../config/chains.ts';
import { grantForConsent, missingConsent } from '../oidc/grants.ts';
import { errorBoundary, sendJsonError, setErrorStatus } from './errors.ts';
import {
  clientOf,
  INTERACTION_PREFIX,
  interactionBody,
  interactionUidShape,
  loadInteraction,
  redirectUriOf,
  sameOriginPosts,
  saveResult,
  wantsJson,
} from './interactions.ts';
import { formActionSource } from './pages.ts';

/**
 * What a page that signs in with a wallet gives its script (views/partials/wallet-login.ejs), as data attributes: no
 * inline script under the CSP. `contractWallets`: whether the chain has an RPC (RPC_URLS) to check a contract
 * wallet's signature; never its URL.
 */
export function walletLoginData(app: AppContext) {
  return {
    chains: app.config.allowedChains.map((id) => ({ id, name: chainName(id), contractWallets: app.config.rpc.urls.has(id) })),
    texts: app.pages.texts,
    finalReasons: FINAL_REASONS,
  };
}

export function createInteractionPages(app: AppContext): Router {
  const { pages, clock } = app;
  const issuerOrigin = app.config.issuer.origin;
  const router = new Router({ prefix: INTERACTION_PREFIX });

  // The error boundary: a page for browsers (form posts, links), JSON for JSON callers; never a 500 for bad input.
  router.use(
    errorBoundary(app.logger, 'interaction route', async (ctx, appError) => {
      if (appError.code === 'database_unavailable') app.logger.warn({ err: appError.cause, path: ctx.path }, 'interaction route: database unavailable');
      if (wantsJson(ctx)) return sendJsonError(ctx, appError);
      setErrorStatus(ctx, appError);
      await pages.render(ctx, 'error', { title: pages.texts['error.title'], error: appError.code, description: appError.message });
    }),
  );
  router.use(interactionUidShape());
  router.use(sameOriginPosts(issuerOrigin));
  router.use(interactionBody());

  router.get('/', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx);
    const client = await clientOf(app.provider, interaction.params.client_id);
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
      await pages.render(ctx, 'login', {
        ...common,
        title: pages.texts['login.title'],
        api: `/interaction/${interaction.uid}`,
        ...walletLoginData(app),
      });
    } else {
      const { scopes, claims } = missingConsent(interaction);
      await pages.render(
        ctx,
        'consent',
        { ...common, title: pages.texts['consent.title'], scopes, claims, account: interaction.session?.accountId },
        { formActionOrigins: formActionSource(redirectUriOf(interaction, client)) },
      );
    }
  });

  router.post('/confirm', async (ctx) => {
    const interaction = await loadInteraction(app.provider, ctx, 'consent');
    await finish(ctx, interaction, { consent: { grantId: await grantForConsent(app.provider, interaction) } });
  });

  const abort = async (ctx: Context) => {
    // An error result replaces any earlier submission (as interactionResult does for errors).
    await finish(ctx, await loadInteraction(app.provider, ctx), { error: 'access_denied', error_description: 'End-User aborted interaction' });
  };
  router.get('/abort', abort);
  router.post('/abort', abort);

  /** JSON callers get `{redirectTo}`; form posts and links get a 303 to oidc-provider. */
  async function finish(ctx: Context, interaction: Interaction, result: Record<string, unknown>) {
    const redirectTo = await saveResult(interaction, result, clock);
    if (ctx.method === 'POST' && wantsJson(ctx)) {
      ctx.body = { redirectTo };
    } else {
      ctx.status = 303;
      ctx.redirect(redirectTo);
    }
  }

  return router;
}
