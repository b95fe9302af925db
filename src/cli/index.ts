// The command line: migrations, clients, signing keys and the sweep, on the same modules as the server. On a PGlite
// data directory a running server holds, the command runs in that server, sent through its admin socket.
import { sendCommand } from '../admin/send-command.ts';
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config/index.ts';
import { readEnvironment } from '../env.ts';
import { DataDirLockedError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { buildCli, reportError, type CommandOutput, type CommandRuntime } from './commands.ts';

/** A holder that went away between our attempt and our request costs one more try; a few in a row mean trouble. */
const ATTEMPTS = 5;

function configure() {
  const env = readEnvironment();
  const config = loadConfig(env);
  // Logs go to stderr at `warn` unless LOG_LEVEL says otherwise: stdout is the command's answer.
  const logger = createLogger(env.LOG_LEVEL === undefined ? 'warn' : config.logLevel, 2);
  return { config, logger };
}

/** This process opens the data itself (and on PGlite locks the directory while the command runs). */
const direct: CommandRuntime = {
  async withStores(fn) {
    const { config, logger } = configure();
    // The server's modules load only when a command needs them: `--help` and usage errors answer without them.
    const { openDatabase } = await import('../context.ts');
    const opened = await openDatabase(config, systemClock, logger);
    try {
      return await fn({ ...opened, config, clock: systemClock });
    } finally {
      await opened.database.close();
    }
  },
  async withDatabase(fn) {
    const { config, logger } = configure();
    const { connectDatabase } = await import('../context.ts');
    const connected = await connectDatabase(config, logger);
    try {
      return await fn(connected.knex);
    } finally {
      await connected.close();
    }
  },
  async withContext(fn) {
    const { config, logger } = configure();
    const { createContext } = await import('../context.ts');
    const ctx = await createContext(config, { logger, receiveChanges: false });
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  },
  // Nothing runs here to apply it: each server reads the keys again when told (the change feed) or restarted.
  keysChanged: async () => undefined,
};

const stdio: CommandOutput = { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) };

async function main(argv: string[]): Promise<number> {
  for (let vanished = 0; ;) {
    try {
      await buildCli(direct, stdio).parseAsync(argv, { from: 'user' });
      return 0;
    } catch (err) {
      if (!(err instanceof DataDirLockedError) || vanished === ATTEMPTS) return reportError(err, stdio);
      // Another process holds the directory: the command runs there, or waits there until the holder is gone.
      let waited = false;
      const result = await sendCommand(err.dataDir, argv, (holder) => {
        waited = true;
        stdio.err(`wallet-oidc: waiting for ${holder}\n`);
      });
      if (result) {
        stdio.out(result.stdout);
        stdio.err(result.stderr);
        return result.exitCode;
      }
      if (!waited) vanished++;
    }
  }
}

const exitCode = await main(process.argv.slice(2)).catch((err: unknown) => reportError(err, stdio));
// Pipes are written asynchronously on some systems: exit once everything printed is out.
await new Promise((resolve) => process.stdout.write('', resolve));
process.exit(exitCode);
