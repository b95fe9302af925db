// The server: configuration → context → HTTP app → listen, plus the periodic sweep and a graceful shutdown (http/shutdown.ts).
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config/index.ts';
import { runCommand, serverRuntime } from './cli/commands.ts';
import { createContext } from './context.ts';
import { startSweeper } from './db/sweep.ts';
import { readEnvironment } from './env.ts';
import { describeFatal } from './errors.ts';
import { createApp } from './http/app.ts';
import { createShutdown } from './http/shutdown.ts';
import { createLogger, routeConsoleToLogger } from './logger.ts';
import { startMetricsServer } from './metrics/server.ts';

async function main(): Promise<void> {
  const config = loadConfig(readEnvironment());
  const logger = createLogger(config.logLevel);
  // Before the provider is built: it prints its notices while it is configured.
  routeConsoleToLogger(logger);
  const ctx = await createContext(config, { logger });
  const shutdown = createShutdown();
  const server = createApp(ctx, { shutdown }).listen(config.port, config.host);
  shutdown.watch(server);
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

  // The order matters: readiness flips first (load balancers stop sending), the listener closes after SHUTDOWN_DELAY,
  // in-flight requests finish, and only then the database closes, since they still use it.
  const stop = async (signal: string) => {
    const { delaySeconds, timeoutSeconds } = config.shutdown;
    logger.info({ signal, delaySeconds, timeoutSeconds, inFlight: shutdown.inFlight }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutSeconds, inFlight: shutdown.inFlight }, 'shutdown timed out: exiting with requests in flight');
      process.exit(1);
    }, timeoutSeconds * 1000).unref();
    sweeper.stop();
    await shutdown.drain(delaySeconds * 1000);
    logger.info('connections closed');
    await metrics?.close();
    await ctx.close();
    logger.info('stopped');
    process.exit(0);
  };
  // The first signal starts the shutdown; a second one (Ctrl-C again) ends the process at once, by its default action.
  const onSignal = (signal: string) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop(signal).catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((err: unknown) => {
  const { message, exitCode } = describeFatal(err);
  console.error(`wallet-oidc: ${message}`);
  process.exit(exitCode);
});
