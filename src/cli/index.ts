// The command line: migrations, clients, signing keys and the sweep, on the same modules as the server.
import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { ClientMetadata } from 'oidc-provider';
import { loadConfig } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { createServer, openStorage, type Storage } from '../services.ts';
import { migrationStatus } from '../db/knex.ts';
import { sweepExpired } from '../db/sweep.ts';
import { WrongKeyError } from '../db/secret-box.ts';
import { ClientMetadataError, registerClient } from '../oidc/clients.ts';
import { CLIENT_AUTH_METHODS } from '../oidc/provider.ts';
import type { StoredClient } from '../db/clients.ts';

if (fs.existsSync('.env')) process.loadEnvFile('.env');

/** Exit codes: 0 done, 1 failure, 2 bad usage or input. */
class UsageError extends Error {}

const config = () => loadConfig(process.env);
// Logs go to stderr at `warn` unless LOG_LEVEL says otherwise: stdout is the command's answer.
const logger = () => createLogger(process.env.LOG_LEVEL === undefined ? 'warn' : config().logLevel, 2);

async function withStorage<T>(fn: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(config(), { logger: logger() });
  try {
    return await fn(storage);
  } finally {
    await storage.db.destroy();
  }
}

function printClient(client: StoredClient, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(client, null, 2));
    return;
  }
  console.log(`client_id:     ${client.client_id}`);
  if (client.client_secret) console.log(`client_secret: ${client.client_secret}`);
  console.log(`name:          ${client.client_name ?? ''}`);
  console.log(`redirect_uris: ${(client.redirect_uris ?? []).join(' ')}`);
  console.log(`auth method:   ${client.token_endpoint_auth_method ?? 'client_secret_post'}`);
  console.log(`skip consent:  ${client.skip_consent === true}`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildCli(): Command {
  // exitOverride: usage errors throw CommanderError (inherited by subcommands) so they exit 2 like bad input.
  const program = new Command('wallet-oidc').description('wallet-oidc administration').showHelpAfterError().exitOverride();

  program
    .command('migrate')
    .description('apply pending database migrations (the server also does this at start-up)')
    .action(async () => {
      await withStorage(async ({ db }) => {
        const { done } = await migrationStatus(db);
        console.log(`database is up to date (${done.length} migrations applied)`);
      });
    });

  const clients = program.command('clients').description('manage OAuth clients (relying parties)');

  clients
    .command('add')
    .description('create a client and print it, with its secret (shown only here)')
    .requiredOption('--name <name>', 'client name shown to users')
    .requiredOption('--redirect-uri <uri>', 'allowed redirect URI (repeat for several)', collect)
    .addOption(new Option('--auth-method <method>', 'token endpoint auth method').choices([...CLIENT_AUTH_METHODS]).default('client_secret_post'))
    .option('--skip-consent', 'first-party client: no consent page', false)
    .option('--json', 'print JSON', false)
    .action(async (opts: { name: string; redirectUri: string[]; authMethod: string; skipConsent: boolean; json: boolean }) => {
      const metadata: Omit<ClientMetadata, 'client_id'> = {
        client_name: opts.name,
        redirect_uris: opts.redirectUri,
        token_endpoint_auth_method: opts.authMethod,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        skip_consent: opts.skipConsent,
      };
      const client = await withStorage(async (storage) => {
        const { provider } = await createServer(config(), storage, { logger: logger() });
        return registerClient(provider, storage.clients, metadata);
      });
      printClient(client, opts.json);
    });

  clients
    .command('list')
    .description('list clients (secrets are not shown)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const list = await withStorage(({ clients: store }) => store.list());
      const shown = list.map(({ client_secret: _secret, ...rest }) => rest);
      if (opts.json) {
        console.log(JSON.stringify(shown, null, 2));
        return;
      }
      if (!shown.length) console.log('no clients');
      for (const c of shown) console.log(`${c.client_id}\t${c.client_name ?? ''}\t${(c.redirect_uris ?? []).join(' ')}`);
    });

  clients
    .command('remove')
    .argument('<client_id>')
    .description('delete a client; its tokens stop working')
    .action(async (clientId: string) => {
      const removed = await withStorage(({ clients: store }) => store.remove(clientId));
      if (!removed) throw new UsageError(`no client with id ${clientId}`);
      console.log(`removed ${clientId}`);
    });

  const keys = program.command('keys').description('manage ID token signing keys');
  keys
    .command('list')
    .description('list signing keys, the active one first')
    .action(async () => {
      const list = await withStorage(async ({ signingKeys }) => {
        await signingKeys.ensure();
        return signingKeys.list();
      });
      list.forEach((k, i) => console.log(`${k.kid}\t${k.alg}${i === 0 ? '\tactive' : ''}`));
    });
  keys
    .command('rotate')
    .description('add a new signing key and make it active; older keys stay published (restart servers to pick it up)')
    .action(async () => {
      const kid = await withStorage(({ signingKeys }) => signingKeys.rotate());
      console.log(`new active key ${kid}`);
    });

  program
    .command('sweep')
    .description('delete expired rows now (the server also does this periodically)')
    .action(async () => {
      const counts = await withStorage(({ db }) =>
        sweepExpired(db, { now: new Date(), loginEventRetentionDays: config().loginEventRetentionDays }),
      );
      console.log(JSON.stringify(counts));
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof WrongKeyError) {
      console.error(`wallet-oidc: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof ClientMetadataError) {
      console.error(`wallet-oidc: ${err.code}: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof CommanderError) {
      // commander has already printed the problem (or the help, exit code 0).
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (err instanceof UsageError) {
      console.error(`wallet-oidc: ${err.message}`);
      process.exit(2);
    }
    console.error('wallet-oidc:', err);
    process.exit(1);
  });
