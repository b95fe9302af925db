// Outbound requests oidc-provider makes (a client's jwks_uri, back-channel logout): public hosts as the
// library allows them, private and loopback addresses only for hosts the operator lists.
import type { Configuration } from 'oidc-provider';

type Fetch = NonNullable<Configuration['fetch']>;

/** The part of undici's Dispatcher that fetch calls, once per connection it needs (every redirect hop too). */
interface Dispatcher {
  dispatch(options: { origin?: string | URL }, handler: unknown): boolean;
}

/** Host names as URL.hostname gives them: lower case, IPv6 without brackets. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
}

/**
 * oidc-provider passes a dispatcher that refuses sockets to special-use addresses (loopback,
 * RFC 1918, link-local…; lib/helpers/fetch_request.js). A listed host may be reached without that
 * guard, so an internal Keycloak or RP can receive back-channel logouts. The choice is made per
 * origin, inside the dispatcher: fetch follows a redirect through the same dispatcher, so every
 * hop is judged by its own host, and a listed host cannot redirect to an unlisted private address.
 */
export function createOutboundFetch(allowedPrivateHosts: readonly string[]): Fetch {
  const allowed = new Set(allowedPrivateHosts.map(normalizeHost));
  if (!allowed.size) return (url, options) => globalThis.fetch(url, options);
  let open: Dispatcher | undefined;
  return (url, options) => {
    const guard = (options as { dispatcher?: Dispatcher }).dispatcher;
    if (!guard) return globalThis.fetch(url, options);
    // An unguarded agent of the same undici as the guard (the one bundled with Node, whose fetch this is).
    open ??= new (guard.constructor as new () => Dispatcher)();
    const unguarded = open;
    const dispatcher: Dispatcher = {
      dispatch: (opts, handler) =>
        (opts.origin !== undefined && allowed.has(normalizeHost(new URL(opts.origin).hostname)) ? unguarded : guard).dispatch(opts, handler),
    };
    return globalThis.fetch(url, { ...options, dispatcher } as typeof options);
  };
}
