// The application logger (pino, JSON lines). Secrets never reach it: pass ids, not payloads.
import { format } from 'node:util';
import { pino } from 'pino';
import { currentRequest } from './request-context.ts';

export type Logger = pino.Logger;

/**
 * The server logs to stdout; the CLI passes fd 2 so its stdout stays the command's answer; tests pass
 * a stream to read the lines. A line written while answering a request carries that request's id.
 */
export function createLogger(level: pino.LevelWithSilent, destination: 1 | 2 | pino.DestinationStream = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'wallet-oidc' },
      redact: ['req.headers.cookie', 'req.headers.authorization', '*.client_secret'],
      mixin: () => {
        const request = currentRequest();
        return request ? { requestId: request.requestId } : {};
      },
    },
    typeof destination === 'number' ? pino.destination(destination) : destination,
  );
}

/**
 * Libraries that print (oidc-provider's notices use console.info, on stdout) go through the logger,
 * so stdout holds JSON lines only.
 */
export function routeConsoleToLogger(logger: Logger): void {
  const to =
    (level: 'info' | 'warn') =>
    (...args: unknown[]) =>
      logger[level]({ console: format(...args) }, 'library notice');
  console.log = console.info = console.debug = to('info');
  console.warn = to('warn');
}
