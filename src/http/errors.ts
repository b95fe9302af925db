// Maps any error on our routes to the login contract's answer: `{error, error_description}` with a stable code.
import type { Context, Middleware } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** Turns library errors (body parser, oidc-provider) into AppErrors; anything else stays a bug. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof oidcErrors.SessionNotFound) {
    return new AppError('interaction_not_found', 'this login has expired or was opened in another browser; start again from the application');
  }
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

export function sendJsonError(ctx: Context, err: AppError): void {
  ctx.status = err.status;
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
