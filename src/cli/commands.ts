// The CLI's commands, written once: run by the CLI process on the data it opens itself, or by the server that
// holds a PGlite data directory, for a CLI that reached it through the admin socket (same output, same exit code).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { ClientMetadata } from 'oidc-provider';
import type { CommandResult } from '../admin/protocol.ts';
import type { ChangeFeed } from '../changes.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Config } from '../config/index.ts';
import type { AppContext, Database, Stores } from '../context.ts';
import type { Db } from '../db/knex.ts';
import { sweepExpired } from '../db/sweep.ts';
import { describeFatal, EXIT, REASONS, UsageError } from '../errors.ts';
import type { LoginEventFilter } from '../http/ports.ts';
import type { LoginEvent } from '../observer.ts';
import { CLIENT_AUTH_METHODS, registerClient, updateClient } from '../oidc/clients.ts';
import type { KeyStatus } from '../oidc/key-states.ts';
import type { Account, StoredClient } from '../oidc/ports.ts';
import { activateKeys, readKeySet, retireKey, rotateKeys } from '../oidc/signing-keys.ts';
import { addSecretsCommands } from './secrets-commands.ts';

/** Where a command finds the data: opened by this CLI process, or the running server's own (admin socket). */
export interface CommandRuntime {
  /** The database and its stores, and the change feed that tells running servers what changed: what most commands need. */
  withStores<T>(fn: (opened: { database: Database; stores: Stores; config: Config; changes: ChangeFeed; clock: Clock }) => Promise<T>): Promise<T>;
  /** The database as it is, not migrated: for `migrate --status`. */
  withDatabase<T>(fn: (knex: Db) => Promise<T>): Promise<T>;
  /** The whole context: for commands that validate client metadata with oidc-provider's own schema. */
  withContext<T>(fn: (ctx: AppContext) => Promise<T>): Promise<T>;
  /**
   * After a `keys` command changed the keys: the server that ran it applies the change at once (`ctx.keys.reload()`);
   * a CLI process has nothing to apply: the servers learn it from the change feed the command announces on.
   */
  keysChanged(): Promise<void>;
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
  device?: boolean;
}

/**
 * --device: a CLI, TV or other input-constrained device (RFC 8628). A public client, since a secret shipped in a
 * device is no secret; no redirect URIs and no response types, since it never receives a redirect; the device code
 * grant, and refresh tokens for the offline_access scope.
 */
const DEVICE_CLIENT = {
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'none',
};

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

/** The most rows `events` and `accounts list` print at once: an audit query stays bounded. */
export const MAX_LIMIT = 10_000;

// commander's InvalidArgumentError: it prints the option and the value, and the command exits 2.
function parseLimit(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw new InvalidArgumentError(`a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO 8601 time (a date alone is midnight UTC), or a duration before now: 30s, 15m, 1h, 7d. */
function parseTime(value: string): Date {
  const relative = /^([0-9]{1,9})([smhd])$/.exec(value);
  if (relative) return new Date(systemClock().getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  // Date.parse alone accepts whatever the engine guesses at ("1", "May 5"): only ISO 8601 shapes pass.
  const at = /^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new InvalidArgumentError('an ISO 8601 time (2025-01-31T12:00:00Z) or a duration before now (30s, 15m, 1h, 7d)');
  return new Date(at);
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function parseAddress(value: string): string {
  if (!ADDRESS.test(value)) throw new InvalidArgumentError('an Ethereum address: 0x and 40 hex digits, in any letter case');
  return value;
}

/** Text output carries what a login request sent (a refused address, say): control characters are escaped, never sent to the terminal. */
const shown = (value: string | number | undefined): string =>
  value === undefined ? '-' : String(value).replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const eventLine = (e: LoginEvent) => [e.at.toISOString(), e.outcome, e.reason, e.clientId, e.address, e.chainId, e.ip].map(shown).join('\t');

/** An account on one line: a seventh field, `disabled <time>`, only when it is disabled. */
const accountLine = (a: Account) =>
  [
    a.sub,
    a.address,
    a.walletType,
    a.lastLoginAt.toISOString(),
    a.firstLoginAt.toISOString(),
    a.loginCount,
    ...(a.disabledAt ? [`disabled ${a.disabledAt.toISOString()}`] : []),
  ]
    .map(shown)
    .join('\t');

function printAccount(print: (line: string) => void, a: Account): void {
  print(`sub:            ${shown(a.sub)}`);
  print(`address:        ${shown(a.address)}`);
  print(`wallet type:    ${shown(a.walletType)}`);
  print(`first login:    ${a.firstLoginAt.toISOString()}`);
  print(`last login:     ${a.lastLoginAt.toISOString()}`);
  print(`login count:    ${a.loginCount}`);
  if (a.disabledAt) print(`disabled:       ${a.disabledAt.toISOString()}${a.disabledReason ? ` (${shown(a.disabledReason)})` : ''}`);
}

/** The accounts a subject or an address names (every chain's, for an address), or a usage error when there is none. */
async function findAccounts(stores: Stores, key: string): Promise<Account[]> {
  const bySub = await stores.accounts.find(key);
  const found = bySub ? [bySub] : ADDRESS.test(key) ? await stores.accounts.findByAddress(key) : [];
  if (!found.length) throw new UsageError(`no account with subject or address ${shown(key)}`);
  return found;
}

/** The most characters `accounts disable --reason` keeps: a note for the audit, not a document. */
export const MAX_REASON = 500;

function parseReason(value: string): string {
  if (!value.trim() || value.length > MAX_REASON || /\p{Cc}/u.test(value)) {
    throw new InvalidArgumentError(`a note of 1 to ${MAX_REASON} characters on one line, without control characters`);
  }
  return value;
}

/** A signing key as `keys` commands print it: never its private part. */
const keyView = (k: KeyStatus) => ({
  kid: k.kid,
  alg: k.alg,
  state: k.state,
  createdAt: k.createdAt.toISOString(),
  activatesAt: k.activatesAt.toISOString(),
  retiredAt: k.retiredAt?.toISOString() ?? null,
});

/** kid, alg, state, created, activation (past or to come), retirement (`-` while published). */
const keyLine = (k: ReturnType<typeof keyView>) => [k.kid, k.alg, k.state, k.createdAt, k.activatesAt, k.retiredAt ?? '-'].join('\t');

interface EventFlags {
  outcome?: LoginEvent['outcome'];
  reason?: string;
  address?: string;
  client?: string;
  since?: Date;
  until?: Date;
  limit: number;
  json: boolean;
}

export function buildCli({ withStores, withDatabase, withContext, keysChanged }: CommandRuntime, output: CommandOutput): Command {
  const print = (line: string) => output.out(`${line}\n`);
  const printKeys = (list: KeyStatus[], json: boolean, what: string) => {
    const shown = list.map(keyView);
    if (json) print(JSON.stringify(shown, null, 2));
    else for (const k of shown) print(`${what}\t${keyLine(k)}`);
  };
  // exitOverride: usage errors throw CommanderError (inherited by subcommands) so they exit 2 like bad input.
  const program = new Command('wallet-oidc')
    .description('wallet-oidc administration')
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError()
    .exitOverride();

  program
    .command('migrate')
    .description('apply pending database migrations (the server also does this at start-up)')
    .option('--status', 'print what is applied and what is pending, and change nothing')
    .option('--json', 'with --status: print it as JSON')
    .action(async (opts: { status?: boolean; json?: boolean }) => {
      // Loaded when needed: `--help` and the other commands never load knex's migrator.
      const { migrationStatus, unknownMigrations } = await import('../db/knex.ts');
      if (!opts.status) {
        await withStores(async ({ database }) => {
          const { done } = await migrationStatus(database.knex);
          print(`database is up to date (${done.length} migrations applied)`);
        });
        return;
      }
      const status = await withDatabase(async (knex) => {
        const unknown = await unknownMigrations(knex);
        const { done, pending } = await migrationStatus(knex);
        return { applied: done.filter((name) => !unknown.includes(name)), pending, unknown };
      });
      if (opts.json) {
        print(JSON.stringify(status, null, 2));
        return;
      }
      for (const name of status.applied) print(`applied\t${name}`);
      for (const name of status.pending) print(`pending\t${name}`);
      for (const name of status.unknown) print(`unknown\t${name}\t(applied by a newer wallet-oidc)`);
      print(`${status.applied.length} applied, ${status.pending.length} pending${status.unknown.length ? `, ${status.unknown.length} unknown` : ''}`);
    });

  const clients = program.command('clients').description('manage OAuth clients (relying parties)');

  clients
    .command('add')
    .description('create a client and print it, with its secret (shown only here and on rotation)')
    .option('--name <name>', 'client name shown to users')
    .option('--redirect-uri <uri>', 'allowed redirect URI (repeat for several)', collect)
    .addOption(new Option('--auth-method <method>', 'token endpoint auth method (default client_secret_post)').choices([...CLIENT_AUTH_METHODS]))
    .option('--skip-consent', 'first-party client: no consent page')
    .option('--device', 'a CLI or TV signing in with the device authorization grant (RFC 8628): public, no redirect URIs')
    .option('--metadata <json>', 'RFC 7591 client metadata as a JSON object; the flags above override its fields')
    .option('--json', 'print JSON', false)
    .action(async (opts: ClientFlags & { json: boolean }) => {
      if (opts.device && (opts.redirectUri || opts.authMethod)) throw new UsageError('--device: a device client has no redirect URI and no secret');
      const metadata = { ...parseMetadata(opts.metadata), ...(opts.device ? DEVICE_CLIENT : {}), ...flagsToMetadata(opts) } as Omit<
        ClientMetadata,
        'client_id'
      >;
      // Stored explicitly, so a later change of the default never changes how an existing client authenticates.
      metadata.token_endpoint_auth_method ??= 'client_secret_post';
      const client = await withContext(async ({ provider, stores, changes }) => {
        const added = await registerClient(provider, stores.clients, metadata);
        await changes.publish('clients', added.client_id);
        return added;
      });
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
      const { before, after } = await withContext(async ({ provider, stores, changes }) => {
        const found = await stores.clients.find(clientId);
        const updated = await updateClient(provider, stores.clients, clientId, patch, { rotateSecret: opts.rotateSecret });
        // Every running instance forgets the client it keeps in memory: the old secret stops working everywhere.
        if (updated) await changes.publish('clients', clientId);
        return { before: found, after: updated };
      });
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
      const removed = await withStores(async ({ stores, changes }) => {
        const gone = await stores.clients.remove(clientId);
        if (gone) await changes.publish('clients', clientId);
        return gone;
      });
      if (!removed) throw new UsageError(`no client with id ${clientId}`);
      print(`removed ${clientId}`);
    });

  program
    .command('events')
    .description('print login events (accepted and refused logins), newest first')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(['success', 'refused']))
    .addOption(new Option('--reason <code>', 'only refusals with this reason code').choices(Object.keys(REASONS)))
    .option('--address <0x…>', 'only this address, in any letter case', parseAddress)
    .option('--client <client_id>', 'only logins to this client')
    .option('--since <time>', 'from this time on: ISO 8601, or a duration before now (30s, 15m, 1h, 7d)', parseTime)
    .option('--until <time>', 'before this time: ISO 8601, or a duration before now', parseTime)
    .option('--limit <n>', `at most this many events (1 to ${MAX_LIMIT})`, parseLimit, 100)
    .option('--json', 'print JSON', false)
    .action(async (opts: EventFlags) => {
      if (opts.since && opts.until && opts.since >= opts.until) throw new UsageError('--since must be before --until');
      const filter: LoginEventFilter = {
        outcome: opts.outcome,
        reason: opts.reason,
        address: opts.address,
        clientId: opts.client,
        since: opts.since,
        until: opts.until,
        limit: opts.limit,
      };
      const events = await withStores(({ stores }) => stores.loginEvents.list(filter));
      if (opts.json) {
        print(JSON.stringify(events, null, 2));
        return;
      }
      if (!events.length) print('no events');
      for (const e of events) print(eventLine(e));
    });

  const accounts = program.command('accounts').description('read, disable and enable accounts (one per wallet, or per wallet and chain with SUB_FORMAT)');
  accounts
    .command('list')
    .description('list accounts, the latest login first')
    .option('--limit <n>', `at most this many accounts (1 to ${MAX_LIMIT})`, parseLimit, 100)
    .option('--json', 'print JSON', false)
    .action(async (opts: { limit: number; json: boolean }) => {
      const list = await withStores(({ stores }) => stores.accounts.list(opts.limit));
      if (opts.json) {
        print(JSON.stringify(list, null, 2));
        return;
      }
      if (!list.length) print('no accounts');
      for (const a of list) print(accountLine(a));
    });
  accounts
    .command('show')
    .argument('<sub_or_address>', 'a subject, or an address in any letter case (its accounts on every chain)')
    .description('print the accounts of a subject or an address')
    .option('--json', 'print JSON (an array)', false)
    .action(async (key: string, opts: { json: boolean }) => {
      const found = await withStores(({ stores }) => findAccounts(stores, key));
      if (opts.json) {
        print(JSON.stringify(found, null, 2));
        return;
      }
      found.forEach((a, i) => {
        if (i > 0) print('');
        printAccount(print, a);
      });
    });

  accounts
    .command('disable')
    .argument('<sub_or_address>', 'a subject, or an address in any letter case (its accounts on every chain)')
    .description('refuse its logins and end its sessions, grants and tokens, on every running server')
    .option('--reason <text>', `a note kept with the account (up to ${MAX_REASON} characters)`, parseReason)
    .action(async (key: string, opts: { reason?: string }) => {
      const { subs, changed, ended } = await withStores(async ({ stores, changes }) => {
        const subs = (await findAccounts(stores, key)).map((a) => a.sub);
        // One transaction: the account's state, the end of what it holds, and the announcement (on Postgres
        // a row and a NOTIFY, delivered at commit) stand or fall together. Ended even when it was already
        // disabled: a login that raced the first disable may have left a session.
        return stores.atomic(async () => {
          const changed = await stores.accounts.setDisabled(subs, { at: systemClock(), reason: opts.reason });
          let ended = 0;
          for (const sub of subs) {
            ended += await stores.payloads.revokeAccount(sub);
            await changes.publish('accounts', sub);
          }
          return { subs, changed, ended };
        });
      });
      for (const sub of subs) print(`${changed.includes(sub) ? 'disabled' : 'already disabled'} ${shown(sub)}`);
      print(`ended ${ended} sessions, grants, codes and tokens`);
    });
  accounts
    .command('enable')
    .argument('<sub_or_address>', 'a subject, or an address in any letter case (its accounts on every chain)')
    .description('allow its logins again (sessions and tokens ended by disable stay ended)')
    .action(async (key: string) => {
      const { subs, changed } = await withStores(async ({ stores, changes }) => {
        const subs = (await findAccounts(stores, key)).map((a) => a.sub);
        return stores.atomic(async () => {
          const changed = await stores.accounts.setDisabled(subs, null);
          for (const sub of changed) {
            // Nothing a disabled account holds is valid: what is left is a login or refresh that raced the disable
            // (saved after its DELETE). Ended here, or it would come back to life with the account.
            await stores.payloads.revokeAccount(sub);
            await changes.publish('accounts', sub);
          }
          return { subs, changed };
        });
      });
      for (const sub of subs) print(`${changed.includes(sub) ? 'enabled' : 'already enabled'} ${shown(sub)}`);
    });

  /** Changes the signing keys, announces it to every running server, and applies it here when this is the server. */
  const changeKeys = async (change: (opened: { stores: Stores; config: Config; clock: Clock }) => Promise<KeyStatus[]>) => {
    const changed = await withStores(async (opened) => {
      const result = await change(opened);
      await opened.changes.publish('keys');
      return result;
    });
    await keysChanged();
    return changed;
  };
  const keys = program.command('keys').description('manage ID token signing keys (staged rotation: rotate, activate, retire)');
  keys
    .command('list')
    .description('list signing keys by algorithm: pending, active, previous (retired ones with --all)')
    .option('--all', 'also list retired keys', false)
    .option('--json', 'print JSON', false)
    .action(async (opts: { all: boolean; json: boolean }) => {
      const set = await withStores(async ({ stores, clock }) => {
        await stores.signingKeys.ensure();
        return readKeySet(stores.signingKeys, clock());
      });
      const list = set.keys.filter((k) => opts.all || k.state !== 'retired').map(keyView);
      if (opts.json) {
        print(JSON.stringify(list, null, 2));
        return;
      }
      for (const k of list) print(keyLine(k));
    });
  keys
    .command('rotate')
    .description('publish the next signing keys (one per algorithm) now; they sign after KEY_ACTIVATION_DELAY or keys activate')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const added = await changeKeys(({ stores, config, clock }) => rotateKeys(stores.signingKeys, clock(), config.keys.activationDelaySeconds));
      printKeys(added, opts.json, 'published');
    });
  keys
    .command('activate')
    .argument('[kid]', 'the key to sign with from now (a pending key, or a previous one to roll back to); default: every pending key')
    .description('make pending keys sign now, before their activation time')
    .option('--json', 'print JSON', false)
    .action(async (kid: string | undefined, opts: { json: boolean }) => {
      const activated = await changeKeys(({ stores, clock }) => activateKeys(stores.signingKeys, clock(), kid));
      printKeys(activated, opts.json, 'signing');
    });
  keys
    .command('retire')
    .argument('<kid>', 'a pending or previous key (never the one signing)')
    .description('withdraw a key from the JWKS: tokens it signed no longer verify')
    .option('--json', 'print JSON', false)
    .action(async (kid: string, opts: { json: boolean }) => {
      const retired = await changeKeys(async ({ stores, clock }) => [await retireKey(stores.signingKeys, clock(), kid)]);
      printKeys(retired, opts.json, 'retired');
    });

  addSecretsCommands(program, { withStores, withDatabase, withContext, keysChanged }, print);

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
    withStores: (fn) => fn({ database: ctx.database!, stores: ctx.stores, config: ctx.config, changes: ctx.changes, clock: ctx.clock }),
    withDatabase: (fn) => fn(ctx.database!.knex),
    withContext: (fn) => fn(ctx),
    keysChanged: () => ctx.keys.reload(),
  };
}
