// A database outage, as oidc-provider answers it: `temporarily_unavailable` (RFC 6749 §4.1.2.1,
// §5.2 by extension) with 503 and Retry-After, never its masked `server_error` 500.
import type Provider from 'oidc-provider';
import { errors, type Configuration } from 'oidc-provider';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../errors.ts';

const DESCRIPTION = 'the service is temporarily unavailable; try again shortly';

/**
 * oidc-provider's own error for an outage, exposed so its error handlers render it (their
 * `renderError` page, their JSON, or a redirect to the client that carries it) instead of server_error.
 */
function temporarilyUnavailable(cause: unknown): Error {
  const err = new errors.TemporarilyUnavailable(DESCRIPTION, { cause });
  return Object.assign(err, { status: 503, statusCode: 503, expose: true });
}

/** Runs a storage call for oidc-provider; an outage is thrown as temporarily_unavailable, anything else unchanged. */
export async function fromStorage<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw isDatabaseUnavailable(err) ? temporarilyUnavailable(err) : err;
  }
}

/**
 * Middleware in front of oidc-provider's routes: Retry-After on every 503 they answer, and a 503 for an
 * outage that escapes their error handlers (the session is saved after them, lib/helpers/initialize_app.js).
 */
export function answerOutages(renderError: NonNullable<Configuration['renderError']>): Parameters<Provider['use']>[0] {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      const unavailable = temporarilyUnavailable(err);
      const out = { error: 'temporarily_unavailable', error_description: DESCRIPTION };
      ctx.status = 503;
      if (ctx.accepts('json', 'html') === 'html') await renderError(ctx as Parameters<typeof renderError>[0], out, unavailable);
      else ctx.body = out;
    }
    if (ctx.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  };
}
