// oidc-provider configured for wallet-oidc. Every non-default option says why; the reference is
// https://github.com/panva/node-oidc-provider/blob/main/docs/README.md (sections named below).
import Provider, { errors, interactionPolicy, type Configuration, type FindAccount, type JWK } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { endAnonymousLogout } from './anonymous-logout.ts';
import type { Observer } from '../observer.ts';
import { CLIENT_AUTH_METHODS } from './clients.ts';
import { CLAIMS } from './claims.ts';
import { loadExistingGrant } from './grants.ts';
import { createOutboundFetch } from './outbound-fetch.ts';
import { answerOutages } from './unavailable.ts';

/**
 * oidc-provider's default prompts, with one more login check: a session whose account findAccount no longer finds (disabled
 * by `accounts disable` after the login that made the session) signs in again, and that login is refused with
 * `account_disabled`. Without it oidc-provider sees the session's accountId, skips the login and fails the consent check
 * with no grant: a 500 (docs: interactions.policy).
 */
function loginPolicy() {
  const { base, Check } = interactionPolicy;
  const policy = base();
  policy
    .get('login')!
    .checks.add(
      new Check('account_not_found', "the session's account is no longer available", (ctx) =>
        ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
      ),
      0,
    );
  return policy;
}

type DeviceFlowOptions = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

export interface ProviderPages {
  error: NonNullable<Configuration['renderError']>;
  deviceInput: NonNullable<DeviceFlowOptions['userCodeInputSource']>;
  deviceConfirm: NonNullable<DeviceFlowOptions['userCodeConfirmSource']>;
  deviceSuccess: NonNullable<DeviceFlowOptions['successSource']>;
  logout: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['logoutSource']>;
  logoutSuccess: NonNullable<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>['postLogoutSuccessSource']>;
}

export interface ProviderDeps {
  config: Config;
  /** Storage for every oidc-provider model (oidc/adapter.ts over the context's stores). */
  adapter: NonNullable<Configuration['adapter']>;
  /** oidc/claims.ts createFindAccount: built by the context, which makes it forget changed accounts. */
  findAccount: FindAccount;
  /** The published keys, the signing ones first (oidc/key-states.ts): a Provider is built per key set. */
  signingKeys: JWK[];
  cookieKeys: string[];
  pages: ProviderPages;
  observer: Observer;
}

/**
 * The device authorization grant's endpoints (RFC 8628 §3.1, §3.3): oidc-provider's defaults, set explicitly because the
 * gate in front (http/protocol-gate.ts) and the SIWE message of a device login (http/interactions.ts) name them too.
 */
export const DEVICE_ROUTES = { deviceAuthorization: '/device/auth', verification: '/device' } as const;

/**
 * oidc-provider's device authorization response carries no `interval` (lib/actions/authorization/device.js), which
 * clients read as 5 s (RFC 8628 §3.2). We advertise the one the gate enforces with `slow_down`, so the two never differ.
 */
function advertiseInterval(seconds: number): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200) Object.assign(ctx.body as object, { interval: seconds });
  };
}

/** Response types offered: code for every RP, id_token and code id_token for Auth0's front channel. */
export const RESPONSE_TYPES = ['code', 'id_token', 'code id_token'] as const;

/**
 * Our own client metadata (docs: extraClientMetadata): `skip_consent` marks first-party clients;
 * `resource_server` marks an API that may introspect tokens issued to other clients.
 */
const EXTRA_CLIENT_METADATA: Configuration['extraClientMetadata'] = {
  properties: ['skip_consent', 'resource_server'],
  validator(_ctx, key, value) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
    }
  },
};

/**
 * oidc-provider sends /jwks without Cache-Control. RPs may keep it `maxAge` seconds: shorter than
 * KEY_ACTIVATION_DELAY (checked in config/), so one that honours it has a pending key before that key signs.
 */
function cacheJwks(maxAge: number): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'jwks' && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${maxAge}`);
  };
}

/**
 * After an error on the user-code form (no xsrf secret, a stale form), oidc-provider's error handler puts a new form
 * secret in the session and the router then `persist`s it (lib/shared/error_handler.js, lib/helpers/initialize_app.js
 * ensureSessionSave). A session that was never saved (a first visit that posts, a session that expired) has no `exp`,
 * and persist throws: a 500 instead of the form. Such a session is saved as a new one, for as long as a device code.
 * Session is a class of this Provider only (lib/provider.js), so the change stays with it.
 */
function saveNewSessionsOnPersist(provider: Provider, ttlSeconds: number): void {
  const prototype = provider.Session.prototype;
  const persist = prototype.persist;
  prototype.persist = function (this: typeof prototype) {
    return typeof this.exp === 'number' ? persist.call(this) : this.save(ttlSeconds);
  };
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;

  const configuration: Configuration = {
    adapter: deps.adapter,
    findAccount: deps.findAccount,
    claims: CLAIMS as unknown as Configuration['claims'],
    // offline_access yields a refresh token when the client has the refresh_token grant and the
    // request carries prompt=consent (OIDC Core §11; docs: scopes, issueRefreshToken).
    scopes: ['openid', 'profile', 'offline_access'],
    // ID tokens carry the profile claims the scopes grant, not only `sub`: Auth0's OIDC connection reads
    // the ID token alone (docs: conformIdTokenClaims).
    conformIdTokenClaims: false,
    // One key per algorithm we sign with (oidc/keys.ts, each with its `alg`): oidc-provider derives the ID token
    // algorithms it offers from them, so a client may register RS256, ES256 or EdDSA as id_token_signed_response_alg
    // and anything else is refused at registration (docs: jwks, enabledJWA.idTokenSigningAlgValues).
    jwks: { keys: deps.signingKeys },
    // Keygrip semantics: the first key signs, every listed key verifies, so COOKIE_KEYS rotates by prepending a new key
    // (docs: cookies.keys; docs/operations.md, "Rotating COOKIE_KEYS").
    cookies: { keys: deps.cookieKeys },
    interactions: { policy: loginPolicy(), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant,
    extraClientMetadata: EXTRA_CLIENT_METADATA,
    // What Auth0 and Keycloak send by default (docs: clientDefaults).
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
    },
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    responseTypes: [...RESPONSE_TYPES],
    // PKCE S256 only; required for public clients, optional for confidential ones (Auth0, Keycloak opt in).
    pkce: { required: (_ctx, client) => client.tokenEndpointAuthMethod === 'none' },
    // Explicit lifetimes: no development defaults in production (docs: ttl).
    ttl: {
      AccessToken: config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      // A session without an account only holds the device flow's form secret (oidc/adapter.ts): it lasts as long as a device code.
      Session: (_ctx, session) => (session.accountId ? config.ttl.session : config.ttl.deviceCode),
      Grant: config.ttl.grant,
      RefreshToken: config.ttl.refreshToken,
      DeviceCode: config.ttl.deviceCode,
    },
    routes: { device_authorization: DEVICE_ROUTES.deviceAuthorization, code_verification: DEVICE_ROUTES.verification },
    // Public clients' refresh tokens rotate on every use; reusing a rotated one revokes the whole
    // grant (docs: rotateRefreshToken). Confidential clients keep theirs, as Keycloak and Auth0 expect.
    rotateRefreshToken: (ctx) => ctx.oidc.entities.Client?.clientAuthMethod === 'none',
    fetch: createOutboundFetch(config.outboundPrivateHosts),
    features: {
      // Our interaction routes replace the development ones.
      devInteractions: { enabled: false },
      // Advertise only what is tested end to end; these arrive with the federation work.
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      // A client introspects its own tokens; a confidential client registered with resource_server
      // (an API) introspects anyone's. Other RPs never read each other's tokens
      // (docs: features.introspection.allowedPolicy).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) =>
          token.clientId === client.clientId || (client.clientAuthMethod !== 'none' && client.metadata().resource_server === true),
      },
      // A client revokes only tokens issued to it (docs: features.revocation.allowedPolicy).
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      // Logout tokens to RPs that register a backchannel_logout_uri (Keycloak's broker endpoint).
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: deps.pages.logout, postLogoutSuccessSource: deps.pages.logoutSuccess },
      // The device authorization grant (RFC 8628) for CLIs and TVs: the person types the user code on our pages, then signs in
      // on the same login page. Base-20 consonants in two groups of four, as RFC 8628 §6.1 recommends: no vowels (no words),
      // no look-alikes, 20^8 codes, which the per-IP limit on the verification form (USER_CODE_RATE_LIMIT) keeps out of
      // a guesser's reach (docs: features.deviceFlow).
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: deps.pages.deviceInput,
        userCodeConfirmSource: deps.pages.deviceConfirm,
        successSource: deps.pages.deviceSuccess,
      },
    },
    renderError: deps.pages.error,
  };

  const provider = new Provider(config.issuer.origin, configuration);
  // Behind a TLS-terminating proxy, trust X-Forwarded-* so cookies stay `secure` and URLs https; read
  // X-Forwarded-For as our app does (http/app.ts), only the hops our proxies added.
  provider.proxy = config.trustProxy;
  provider.maxIpsCount = config.proxyHops;
  // A database outage answers 503 temporarily_unavailable with Retry-After, on every endpoint.
  provider.use(answerOutages(deps.pages.error));
  provider.use(endAnonymousLogout);
  provider.use(cacheJwks(config.keys.jwksMaxAgeSeconds));
  provider.use(advertiseInterval(config.devicePollIntervalSeconds));
  saveNewSessionsOnPersist(provider, config.ttl.deviceCode);
  provider.on('server_error', (_ctx, err) => deps.observer.providerProblem({ kind: 'server_error', err }));
  provider.on('backchannel.error', (_ctx, err, client) =>
    deps.observer.providerProblem({ kind: 'backchannel_error', err, clientId: client.clientId, uri: client.backchannelLogoutUri }),
  );
  return provider;
}
