// The server: configuration → context → HTTP app → listen, plus the periodic sweep and a clean shutdown.
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config/index.ts';
import { runCommand, serverRuntime } from './cli/commands.ts';
import { createContext } from './context.ts';
import { startSweeper } from './db/sweep.ts';
import { readEnvironment } from './env.ts';
import { describeFatal } from './errors.ts';
import { createApp } from './http/app.ts';
import { createLogger, routeConsoleToLogger } from './logger.ts';
import { startMetricsServer } from './metrics/server.ts';

async function main(): Promise<void> {
  const config = loadConfig(readEnvironment());
  const logger = createLogger(config.logLevel);
  // Before the provider is built: it prints its notices while it is configured.
  routeConsoleToLogger(logger);
  const ctx = await createContext(config, { logger });
  const server = createApp(ctx).listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  const metrics = config.metrics && (await startMetricsServer(ctx.metrics, logger, config.metrics));
  // On PGlite, CLI commands run here, on this process's own stores: the data directory admits no second process.
  const admin = ctx.database?.lock;
  admin?.serve(async (argv) => {
    const result = await runCommand(argv, serverRuntime(ctx));
    logger.info(
      {
        command: argv
          .slice(0, 2)
          .filter((arg) => !arg.startsWith('-'))
          .join(' '),
        exitCode: result.exitCode,
      },
      'admin command',
    );
    return result;
  });
  logger.info(
    {
      issuer: config.issuer.origin,
      port,
      metricsPort: metrics?.port,
      database: config.database.kind,
      adminSocket: admin?.socketPath,
      signatureRecovery: ctx.signatureRecovery,
    },
    'wallet-oidc listening',
  );

  const sweeper = startSweeper(ctx.database!.knex, {
    clock: ctx.clock,
    logger,
    intervalSeconds: config.sweepIntervalSeconds,
    loginEventRetentionDays: config.loginEventRetentionDays,
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    sweeper.stop();
    void metrics?.close();
    server.close(() => void ctx.close().finally(() => process.exit(0)));
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
