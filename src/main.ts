// Composition root: loadConfig → openStorage → createServer → listen, plus the sweep and shutdown.
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config/index.ts';
import { describeFatal } from './errors.ts';
import { createLogger } from './logger.ts';
import { createServer, openStorage } from './services.ts';
import { sweepExpired } from './db/sweep.ts';
import { RECOVERY_IMPLEMENTATION } from './siwe/recover.ts';

if (fs.existsSync('.env')) process.loadEnvFile('.env');

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  const storage = await openStorage(config, { logger });
  const { app } = await createServer(config, storage, { logger });

  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  logger.info({ issuer: config.issuer.origin, port, database: config.database.kind, signatureRecovery: RECOVERY_IMPLEMENTATION }, 'wallet-oidc listening');

  const sweep = async () => {
    try {
      const counts = await sweepExpired(storage.db, { now: new Date(), loginEventRetentionDays: config.loginEventRetentionDays });
      logger.debug({ counts }, 'swept expired rows');
    } catch (err) {
      logger.error({ err }, 'sweep failed');
    }
  };
  const sweeper = config.sweepIntervalSeconds > 0 ? setInterval(sweep, config.sweepIntervalSeconds * 1000).unref() : undefined;

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    clearInterval(sweeper);
    server.close(() => void storage.db.destroy().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  const { message, exitCode } = describeFatal(err);
  console.error(`wallet-oidc: ${message}`);
  process.exit(exitCode);
});
