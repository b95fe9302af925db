// The command line: migrations, clients, signing keys and the sweep, on the same modules as the server.
import { Command, CommanderError, Option } from 'commander';
import type { ClientMetadata } from 'oidc-provider';
import { loadConfig } from '../config/index.ts';
import { createContext, openDatabase, type AppContext, type Database, type Stores } from '../context.ts';
import { systemClock } from '../clock.ts';
import { migrationStatus } from '../db/knex.ts';
import { sweepExpired } from '../db/sweep.ts';
import { readEnvironment } from '../env.ts';
import { describeFatal, EXIT, UsageError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { registerClient, updateClient } from '../oidc/clients.ts';
import type { StoredClient } from '../oidc/ports.ts';
import { CLIENT_AUTH_METHODS } from '../oidc/provider.ts';

function configure() {
  const env = readEnvironment();
  const config = loadConfig(env);
  // Logs go to stderr at `warn` unless LOG_LEVEL says otherwise: stdout is the command's answer.
  const logger = createLogger(env.LOG_LEVEL === undefined ? 'warn' : config.logLevel, 2);
  return { config, logger };
}

/** The database and its stores: what most commands need. */
async function withStores<T>(fn: (opened: { database: Database; stores: Stores }) => Promise<T>): Promise<T> {
  const { config, logger } = configure();
  const opened = await openDatabase(config, systemClock, logger);
  try {
    return await fn(opened);
  } finally {
    await opened.database.knex.destroy();
  }
}

/** The whole context: for commands that validate client metadata with oidc-provider's own schema. */
async function withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T> {
  const { config, logger } = configure();
  const ctx = await createContext(config, { logger });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
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
  const rest = Object.entries(client).filter(
    ([k]) => !['client_id', 'client_secret', 'client_name', 'redirect_uris', 'token_endpoint_auth_method', 'skip_consent'].includes(k),
  );
  for (const [k, v] of rest) console.log(`${`${k}:`.padEnd(15)}${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface ClientFlags {
  name?: string;
  redirectUri?: string[];
  authMethod?: string;
  skipConsent?: boolean;
  metadata?: string;
}

/** --metadata: a JSON object of client metadata, or a usage error that says what is wrong. */
function parseMetadata(json: string | undefined): Record<string, unknown> {
  if (json === undefined) return {};
  let value: unknown;
  try {
    // JSON.parse makes "__proto__" an own key and never sets a prototype; spreads copy it as one.
    // registerClient and updateClient then refuse it (and constructor, prototype) at any depth.
    value = JSON.parse(json);
  } catch (err) {
    throw new UsageError(`--metadata: not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('--metadata: must be a JSON object');
  return value as Record<string, unknown>;
}

/** The flags that were given, as metadata fields (absent flags leave fields alone). */
function flagsToMetadata(opts: ClientFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (opts.name !== undefined) out.client_name = opts.name;
  if (opts.redirectUri !== undefined) out.redirect_uris = opts.redirectUri;
  if (opts.authMethod !== undefined) out.token_endpoint_auth_method = opts.authMethod;
  if (opts.skipConsent !== undefined) out.skip_consent = opts.skipConsent;
  return out;
}

export function buildCli(): Command {
  // exitOverride: usage errors throw CommanderError (inherited by subcommands) so they exit 2 like bad input.
  const program = new Command('wallet-oidc').description('wallet-oidc administration').showHelpAfterError().exitOverride();

  program
    .command('migrate')
    .description('apply pending database migrations (the server also does this at start-up)')
    .action(async () => {
      await withStores(async ({ database }) => {
        const { done } = await migrationStatus(database.knex);
        console.log(`database is up to date (${done.length} migrations applied)`);
      });
    });

  const clients = program.command('clients').description('manage OAuth clients (relying parties)');

  clients
    .command('add')
    .description('create a client and print it, with its secret (shown only here and on rotation)')
    .option('--name <name>', 'client name shown to users')
    .option('--redirect-uri <uri>', 'allowed redirect URI (repeat for several)', collect)
    .addOption(new Option('--auth-method <method>', 'token endpoint auth method (default client_secret_post)').choices([...CLIENT_AUTH_METHODS]))
    .option('--skip-consent', 'first-party client: no consent page')
    .option('--metadata <json>', 'RFC 7591 client metadata as a JSON object; the flags above override its fields')
    .option('--json', 'print JSON', false)
    .action(async (opts: ClientFlags & { json: boolean }) => {
      const metadata = { ...parseMetadata(opts.metadata), ...flagsToMetadata(opts) } as Omit<ClientMetadata, 'client_id'>;
      // Stored explicitly, so a later change of the default never changes how an existing client authenticates.
      metadata.token_endpoint_auth_method ??= 'client_secret_post';
      const client = await withContext(({ provider, stores }) => registerClient(provider, stores.clients, metadata));
      printClient(client, opts.json);
    });

  clients
    .command('show')
    .argument('<client_id>')
    .description('print one client (without its secret)')
    .option('--json', 'print JSON', false)
    .action(async (clientId: string, opts: { json: boolean }) => {
      const client = await withStores(({ stores }) => stores.clients.find(clientId));
      if (!client) throw new UsageError(`no client with id ${clientId}`);
      const { client_secret: _secret, ...shown } = client;
      printClient(shown as StoredClient, opts.json);
    });

  clients
    .command('update')
    .argument('<client_id>')
    .description('change a client: given fields replace the stored ones (null in --metadata removes a field)')
    .option('--name <name>', 'client name shown to users')
    .option('--redirect-uri <uri>', 'replaces the redirect URIs (repeat for several)', collect)
    .addOption(new Option('--auth-method <method>', 'token endpoint auth method').choices([...CLIENT_AUTH_METHODS]))
    .option('--skip-consent', 'first-party client: no consent page')
    .option('--no-skip-consent', 'ask for consent again')
    .option('--metadata <json>', 'RFC 7591 client metadata fields to set, as a JSON object')
    .option('--rotate-secret', 'issue a new client secret (the old one stops working)', false)
    .option('--json', 'print JSON', false)
    .action(async (clientId: string, opts: ClientFlags & { rotateSecret: boolean; json: boolean }) => {
      const patch = { ...parseMetadata(opts.metadata), ...flagsToMetadata(opts) };
      const { before, after } = await withContext(async ({ provider, stores }) => ({
        before: await stores.clients.find(clientId),
        after: await updateClient(provider, stores.clients, clientId, patch, { rotateSecret: opts.rotateSecret }),
      }));
      if (!after) throw new UsageError(`no client with id ${clientId}`);
      // The secret is printed only when it is new.
      const { client_secret: secret, ...rest } = after;
      printClient(secret && secret !== before?.client_secret ? after : (rest as StoredClient), opts.json);
    });

  clients
    .command('list')
    .description('list clients (secrets are not shown)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const list = await withStores(({ stores }) => stores.clients.list());
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
      const removed = await withStores(({ stores }) => stores.clients.remove(clientId));
      if (!removed) throw new UsageError(`no client with id ${clientId}`);
      console.log(`removed ${clientId}`);
    });

  const keys = program.command('keys').description('manage ID token signing keys');
  keys
    .command('list')
    .description('list signing keys, the active one first')
    .action(async () => {
      const list = await withStores(async ({ stores }) => {
        await stores.signingKeys.ensure();
        return stores.signingKeys.list();
      });
      list.forEach((k, i) => console.log(`${k.kid}\t${k.alg}${i === 0 ? '\tactive' : ''}`));
    });
  keys
    .command('rotate')
    .description('add a new signing key and make it active; older keys stay published (restart servers to pick it up)')
    .action(async () => {
      const kid = await withStores(({ stores }) => stores.signingKeys.rotate());
      console.log(`new active key ${kid}`);
    });

  program
    .command('sweep')
    .description('delete expired rows now (the server also does this periodically)')
    .action(async () => {
      const counts = await withStores(({ database }) =>
        sweepExpired(database.knex, { now: systemClock(), loginEventRetentionDays: configure().config.loginEventRetentionDays }),
      );
      console.log(JSON.stringify(counts));
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // commander has already printed the problem (or the help, exit code 0).
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
    const { message, exitCode } = describeFatal(err);
    console.error(`wallet-oidc: ${message}`);
    process.exit(exitCode);
  });
