// Maps any error on our routes to the login contract's answer: `{error, error_description}` with a stable code.
import type { Context, Middleware } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError, isDatabaseUnavailable, isDataException, RETRY_AFTER_SECONDS } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** Turns library errors (body parser, oidc-provider, the database's data exceptions) and database outages into AppErrors; anything else stays a bug. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  // Also when oidc-provider's storage reported it (temporarily_unavailable, with the outage as its cause).
  if (isDatabaseUnavailable(err)) {
    return new AppError('database_unavailable', 'the service is temporarily unavailable; nothing was used up: send the same request again shortly', {
      cause: err,
    });
  }
  if (err instanceof oidcErrors.SessionNotFound) {
    return new AppError('interaction_not_found', 'this login has expired or was opened in another browser; start again from the application');
  }
  if (isDataException(err)) return new AppError('invalid_request', 'the request holds a value that cannot be stored or looked up');
  const status = (err as { status?: unknown })?.status;
  // 4xx from the body parser (bad JSON, too large) or Koa: the client's fault, with our stable codes.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new AppError('payload_too_large', 'the request body is too large');
    if (status === 415) return new AppError('unsupported_media_type', 'send application/json');
    const exposed = (err as { expose?: boolean }).expose ? (err as Error).message : undefined;
    return new AppError('invalid_request', exposed || 'the request body could not be parsed');
  }
  return undefined;
}

/** A 503 says when to come back; a 429 already carries its own Retry-After (rate-limit.ts). */
export function setErrorStatus(ctx: Context, err: AppError): void {
  ctx.status = err.status;
  if (err.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
}

export function sendJsonError(ctx: Context, err: AppError): void {
  setErrorStatus(ctx, err);
  ctx.body = { error: err.code, error_description: err.message };
}

/**
 * A router's error boundary: an error with a stable code goes to `answer`; anything else is a bug,
 * logged with the route and rethrown (Koa answers 500 without detail).
 */
export function errorBoundary<C extends Context>(logger: Logger, what: string, answer: (ctx: C, err: AppError) => Promise<void> | void): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const appError = toAppError(err);
      if (!appError) {
        logger.error({ err, path: ctx.path }, `${what} failed`);
        throw err;
      }
      await answer(ctx as C, appError);
    }
  };
}
