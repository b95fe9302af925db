// The CLI's commands, written once: run by the CLI process on the data it opens itself, or by the server that
// holds a PGlite data directory, for a CLI that reached it through the admin socket (same output, same exit code).
import { Command, CommanderError, Option } from 'commander';
import type { ClientMetadata } from 'oidc-provider';
import type { CommandResult } from '../admin/protocol.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config/index.ts';
import type { AppContext, Database, Stores } from '../context.ts';
import { sweepExpired } from '../db/sweep.ts';
import { describeFatal, EXIT, UsageError } from '../errors.ts';
import { CLIENT_AUTH_METHODS, registerClient, updateClient } from '../oidc/clients.ts';
import type { StoredClient } from '../oidc/ports.ts';

/** Where a command finds the data: opened by this CLI process, or the running server's own (admin socket). */
export interface CommandRuntime {
  /** The database and its stores: what most commands need. */
  withStores<T>(fn: (opened: { database: Database; stores: Stores; config: Config }) => Promise<T>): Promise<T>;
  /** The whole context: for commands that validate client metadata with oidc-provider's own schema. */
  withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T>;
}

/** The command's answer: a CLI's stdout and stderr, or buffers the server sends back over the socket. */
export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

function printClient(print: (line: string) => void, client: StoredClient, json: boolean): void {
  if (json) {
    print(JSON.stringify(client, null, 2));
    return;
  }
  print(`client_id:     ${client.client_id}`);
  if (client.client_secret) print(`client_secret: ${client.client_secret}`);
  print(`name:          ${client.client_name ?? ''}`);
  print(`redirect_uris: ${(client.redirect_uris ?? []).join(' ')}`);
  print(`auth method:   ${client.token_endpoint_auth_method ?? 'client_secret_post'}`);
  print(`skip consent:  ${client.skip_consent === true}`);
  const rest = Object.entries(client).filter(
    ([k]) => !['client_id', 'client_secret', 'client_name', 'redirect_uris', 'token_endpoint_auth_method', 'skip_consent'].includes(k),
  );
  for (const [k, v] of rest) print(`${`${k}:`.padEnd(15)}${typeof v === 'string' ? v : JSON.stringify(v)}`);
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

export function buildCli({ withStores, withContext }: CommandRuntime, output: CommandOutput): Command {
  const print = (line: string) => output.out(`${line}\n`);
  // exitOverride: usage errors throw CommanderError (inherited by subcommands) so they exit 2 like bad input.
  const program = new Command('wallet-oidc')
    .description('wallet-oidc administration')
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError()
    .exitOverride();

  program
    .command('migrate')
    .description('apply pending database migrations (the server also does this at start-up)')
    .action(async () => {
      await withStores(async ({ database }) => {
        // Loaded when needed: `--help` and the other commands never load knex's migrator.
        const { migrationStatus } = await import('../db/knex.ts');
        const { done } = await migrationStatus(database.knex);
        print(`database is up to date (${done.length} migrations applied)`);
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
      printClient(print, client, opts.json);
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
      printClient(print, shown as StoredClient, opts.json);
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
      printClient(print, secret && secret !== before?.client_secret ? after : (rest as StoredClient), opts.json);
    });

  clients
    .command('list')
    .description('list clients (secrets are not shown)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const list = await withStores(({ stores }) => stores.clients.list());
      const shown = list.map(({ client_secret: _secret, ...rest }) => rest);
      if (opts.json) {
        print(JSON.stringify(shown, null, 2));
        return;
      }
      if (!shown.length) print('no clients');
      for (const c of shown) print(`${c.client_id}\t${c.client_name ?? ''}\t${(c.redirect_uris ?? []).join(' ')}`);
    });

  clients
    .command('remove')
    .argument('<client_id>')
    .description('delete a client; its tokens stop working')
    .action(async (clientId: string) => {
      const removed = await withStores(({ stores }) => stores.clients.remove(clientId));
      if (!removed) throw new UsageError(`no client with id ${clientId}`);
      print(`removed ${clientId}`);
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
      list.forEach((k, i) => print(`${k.kid}\t${k.alg}${i === 0 ? '\tactive' : ''}`));
    });
  keys
    .command('rotate')
    .description('add a new signing key and make it active; older keys stay published (restart servers to pick it up)')
    .action(async () => {
      const kid = await withStores(({ stores }) => stores.signingKeys.rotate());
      print(`new active key ${kid}`);
    });

  program
    .command('sweep')
    .description('delete expired rows now (the server also does this periodically)')
    .action(async () => {
      const counts = await withStores(({ database, config }) =>
        sweepExpired(database.knex, { now: systemClock(), loginEventRetentionDays: config.loginEventRetentionDays }),
      );
      print(JSON.stringify(counts));
    });

  return program;
}

/** Prints what stops a command, as `wallet-oidc: <problem>` on stderr, and returns its exit code. */
export function reportError(err: unknown, output: CommandOutput): number {
  // commander has already printed the problem (or the help, exit code 0).
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT.usage;
  const { message, exitCode } = describeFatal(err);
  output.err(`wallet-oidc: ${message}\n`);
  return exitCode;
}

/** Runs a command line (without the program's name) and returns its whole answer. */
export async function runCommand(argv: string[], runtime: CommandRuntime): Promise<CommandResult> {
  const result = { stdout: '', stderr: '', exitCode: 0 };
  const output = { out: (text: string) => void (result.stdout += text), err: (text: string) => void (result.stderr += text) };
  try {
    await buildCli(runtime, output).parseAsync(argv, { from: 'user' });
  } catch (err) {
    result.exitCode = reportError(err, output);
  }
  return result;
}

/** The running server's own context as the runtime: for commands that arrive over its admin socket. */
export function serverRuntime(ctx: AppContext): CommandRuntime {
  return {
    withStores: (fn) => fn({ database: ctx.database!, stores: ctx.stores, config: ctx.config }),
    withContext: (fn) => fn(ctx),
  };
}
