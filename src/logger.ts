// The application logger (pino, JSON lines). Secrets never reach it: pass ids, not payloads.
import { pino } from 'pino';

export type Logger = pino.Logger;

/** The server logs to stdout; the CLI passes fd 2 so its stdout stays the command's answer. */
export function createLogger(level: pino.LevelWithSilent, fd: 1 | 2 = 1): Logger {
  return pino(
    { level, base: { service: 'wallet-oidc' }, redact: ['req.headers.cookie', 'req.headers.authorization', '*.client_secret'] },
    pino.destination(fd),
  );
}
