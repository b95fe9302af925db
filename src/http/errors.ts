// Maps any error on our routes to the login contract's answer: `{error, error_description}` with a stable code.
import type { Context } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError, isDataException } from '../errors.ts';

/** Turns library errors (body parser, oidc-provider, the database's data exceptions) into AppErrors; anything else stays a bug. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
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

export function sendJsonError(ctx: Context, err: AppError): void {
  ctx.status = err.status;
  ctx.body = { error: err.code, error_description: err.message };
}
