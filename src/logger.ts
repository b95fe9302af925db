// The application logger (pino, JSON lines). Secrets never reach it: pass ids, not payloads.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: pino.LevelWithSilent): Logger {
  return pino({ level, base: { service: 'wallet-oidc' }, redact: ['req.headers.cookie', 'req.headers.authorization', '*.client_secret'] });
}
