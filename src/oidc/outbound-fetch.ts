// Outbound requests oidc-provider makes (a client's jwks_uri, back-channel logout): public hosts as the
// library allows them, private and loopback addresses only for hosts the operator lists.
import type { Configuration } from 'oidc-provider';

type Fetch = NonNullable<Configuration['fetch']>;

/** Host names as URL.hostname gives them: lower case, IPv6 without brackets. */
export function normalizeHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
}

/**
 * oidc-provider passes a dispatcher that refuses sockets to special-use addresses (loopback,
 * RFC 1918, link-local…; lib/helpers/fetch_request.js). For a listed host we drop it, so an
 * internal Keycloak or RP can receive back-channel logouts; every other host keeps the guard.
 */
export function createOutboundFetch(allowedPrivateHosts: readonly string[]): Fetch {
  const allowed = new Set(allowedPrivateHosts.map(normalizeHost));
  return (url, options) => {
    const href = typeof url === 'string' ? url : url instanceof URL ? url.href : url.url;
    if (allowed.has(normalizeHost(new URL(href).hostname))) {
      const { dispatcher: _guard, ...rest } = options as typeof options & { dispatcher?: unknown };
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  };
}
