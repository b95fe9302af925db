// The composition root: createContext(config, overrides) builds every long-lived part once (clock,
// logger, database and stores, ports, the SIWE service, pages, oidc-provider). The server (main.ts),
// the CLI, the benchmark's in-memory ceiling and the tests all build from it; overrides swap a part
// (in-memory stores, a test clock, a contract-wallet verifier) without a second wiring.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Provider from 'oidc-provider';
import type { JWK } from 'oidc-provider';
import { lockDataDir, type DataDirLock } from './admin/data-dir-lock.ts';
import { createLocalChangeFeed, type ChangeFeed, type ChangeKind } from './changes.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/index.ts';
import { createAccountStore } from './db/accounts.ts';
import { createPostgresChangeFeed } from './db/changes.ts';
import { createClientStore } from './db/clients.ts';
import { createNameStore } from './db/ens-names.ts';
import { createDb, migrate, migrationStatus, type Db } from './db/knex.ts';
import { createHandoffStore } from './db/handoffs.ts';
import { createLoginEventStore } from './db/login-events.ts';
import { createNonceStore } from './db/nonces.ts';
import { createPayloadStore } from './db/payloads.ts';
import { createPostgresRateCounters } from './db/rate-limits.ts';
import { DEVELOPMENT_ENCRYPTION_KEY, findSecret, generateCookieKeys, generateEncryptionKey, getOrCreateSecret } from './db/provider-secrets.ts';
import { checkSealedKeys } from './db/sealed-values.ts';
import { createSecretBox, type SecretBox } from './db/secret-box.ts';
import { createSigningKeys } from './db/signing-keys.ts';
import { createSql, type Sql } from './db/sql.ts';
import { createEnsNames, type EnsNames } from './ens/names.ts';
import type { NameStore } from './ens/ports.ts';
import { createEnsReader } from './ens/reader.ts';
import { createPages, type Pages } from './http/pages.ts';
import type { HandoffStore, LoginEventStore, RateLimiter } from './http/ports.ts';
import { createRateLimiter, memoryRateCounters } from './http/rate-limit.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics, type WatchedDatabase } from './metrics/metrics.ts';
import { combineObservers, createLogObserver, type Observer } from './observer.ts';
import { createClientAdapter, createPayloadAdapter } from './oidc/adapter.ts';
import { createFindAccount } from './oidc/claims.ts';
import { noNames, type AccountStore, type ClientStore, type NameResolver, type PayloadStore, type SigningKeyStore } from './oidc/ports.ts';
import { createProvider } from './oidc/provider.ts';
import { startSigningKeys, type SigningKeys } from './oidc/signing-keys.ts';
import { createSiweService, type SiweService } from './siwe/challenge.ts';
import { createContractVerifier } from './siwe/contract-verifier.ts';
import type { NonceStore, SignatureVerifier } from './siwe/ports.ts';
import { chooseRecover, type RecoveryImplementation } from './siwe/recover.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VIEWS_DIR = path.join(PROJECT_ROOT, 'views');

/** Every store, each behind the port its caller declares. */
export interface Stores {
  accounts: AccountStore;
  clients: ClientStore;
  nonces: NonceStore;
  loginEvents: LoginEventStore;
  payloads: PayloadStore;
  signingKeys: SigningKeyStore;
  /** ENS names by address, as the background resolutions left them (ens/names.ts). */
  names: NameStore;
  /** Logins handed from a login page to another device (http/handoffs.ts). */
  handoffs: HandoffStore;
  /** Secrets generated in development when the operator gave none (COOKIE_KEYS), kept with the data. */
  secrets: { getOrCreate<T>(name: string, generate: () => T): Promise<T> };
  /**
   * Runs `fn` so that the hot-path writes it makes (nonces, accounts and their login events,
   * oidc-provider's payloads) commit together or not at all: one transaction on SQL.
   */
  atomic<T>(fn: () => Promise<T>): Promise<T>;
}

/** The ports the coming features fill in: contract wallets, ENS, shared rate limits, metrics. */
export interface Ports {
  signatureVerifier: SignatureVerifier;
  nameResolver: NameResolver;
  rateLimiter: RateLimiter;
  observer: Observer;
}

/** The SQL database behind the stores: knex for migrations and admin queries, `sql` for the hot path. */
export interface Database {
  knex: Db;
  sql: Sql;
  /** Seals under ENCRYPTION_KEY, opens under it or a previous key: for `secrets reseal` and `secrets status`. */
  box: SecretBox;
  /** PGlite's data directory lock, with its admin socket; absent on Postgres, which many processes share. */
  lock: DataDirLock | undefined;
  /** Waits for admin commands running, closes the connections, then unlocks the data directory. */
  close(): Promise<void>;
}

export interface AppContext extends Ports {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Absent when the stores are in memory (tests, the benchmark's ceiling). */
  database: Database | undefined;
  stores: Stores;
  siwe: SiweService;
  pages: Pages;
  /**
   * oidc-provider, built over the current signing keys: a new one replaces it when they change (`keys`).
   * Read it at each use, never keep it: requests already running finish on the one they started with.
   */
  readonly provider: Provider;
  /** The signing keys: published, pending, signing; `reload()` applies a change made elsewhere (CLI, another instance). */
  keys: SigningKeys;
  /** Prometheus metrics on this context's own registry (served by metrics/server.ts when METRICS_PORT is set). */
  metrics: Metrics;
  /** CLI changes (clients, accounts, keys) announced to every instance: on Postgres through the database, else in this process. */
  changes: ChangeFeed;
  /** Which secp256k1 implementation the EOA verifier uses. */
  signatureRecovery: RecoveryImplementation;
  /** Whether this instance can serve: the database answers, no migration is pending, signing keys exist. Never throws. */
  checkReadiness(): Promise<NotReady | undefined>;
  /** Closes the database; the context is unusable afterwards. */
  close(): Promise<void>;
}

/** Why an instance is not ready, for /readyz: a stable reason, and the cause's message (never its stack). */
export interface NotReady {
  reason: 'database_unreachable' | 'migrations_pending' | 'signing_keys_missing';
  cause?: string;
}

export interface ContextOverrides extends Partial<Ports> {
  clock?: Clock;
  logger?: Logger;
  /** Stores to use instead of the database (memory/stores.ts); no database is opened then. */
  stores?: Stores;
  /** false: only publish changes, never receive them (a CLI process: no LISTEN connection, no poll). */
  receiveChanges?: boolean;
}

/**
 * The box that seals under ENCRYPTION_KEY and opens under it or ENCRYPTION_KEY_PREVIOUS. Without ENCRYPTION_KEY
 * (development only: production refuses to start without it) a generated key is kept beside the data; once
 * ENCRYPTION_KEY is set, that stored key is accepted as a previous one, so `secrets reseal` moves to the real key.
 */
async function openSecretBox(knex: Db, config: Config, logger: Logger): Promise<SecretBox> {
  if (!config.encryptionKey) {
    logger.warn('ENCRYPTION_KEY is not set: using a generated key stored in the database (development only)');
    const generated = Buffer.from(await getOrCreateSecret(knex, DEVELOPMENT_ENCRYPTION_KEY, generateEncryptionKey), 'hex');
    return createSecretBox(generated, config.previousEncryptionKeys);
  }
  const stored = await findSecret<string>(knex, DEVELOPMENT_ENCRYPTION_KEY);
  return createSecretBox(config.encryptionKey, [...config.previousEncryptionKeys, ...(stored ? [Buffer.from(stored, 'hex')] : [])]);
}

/**
 * Connects to the database as it is, with no migration: on PGlite, after locking its data directory (a second process on
 * it would split the data). `close` waits for admin commands running, closes the connections, then unlocks.
 */
export async function connectDatabase(config: Config, logger: Logger): Promise<{ knex: Db; lock: DataDirLock | undefined; close(): Promise<void> }> {
  const lock = config.database.kind === 'pglite' ? await lockDataDir(config.database.dataDir) : undefined;
  let knex: Db;
  try {
    knex = createDb(config.database, logger);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const close = async () => {
    await lock?.drain();
    await knex.destroy();
    await lock?.release();
  };
  return { knex, lock, close };
}

/**
 * Locks a PGlite data directory (before PGlite opens it: a second process on it would split the data), opens the
 * database, applies migrations, unlocks the sealed secrets, and builds the SQL stores.
 */
export async function openDatabase(config: Config, clock: Clock, logger: Logger): Promise<{ database: Database; stores: Stores; changes: ChangeFeed }> {
  const { knex, lock, close } = await connectDatabase(config, logger);
  try {
    const applied = await migrate(knex);
    if (applied.length) logger.info({ applied }, 'database migrated');
    const box = await openSecretBox(knex, config, logger);
    const sql = createSql(knex);
    const stores: Stores = {
      accounts: createAccountStore(knex, sql),
      clients: createClientStore(knex, box, clock),
      nonces: createNonceStore(sql),
      loginEvents: createLoginEventStore(knex),
      payloads: createPayloadStore(sql),
      signingKeys: createSigningKeys(knex, box, clock),
      names: createNameStore(sql),
      handoffs: createHandoffStore(sql),
      secrets: { getOrCreate: (name, generate) => getOrCreateSecret(knex, name, generate) },
      atomic: (fn) => sql.transaction(fn),
    };
    // Not started here: a CLI process only publishes; createContext starts the server's feed.
    const changes =
      config.database.kind === 'postgres'
        ? createPostgresChangeFeed({
            sql,
            url: config.database.url,
            logger,
            pollIntervalSeconds: config.changePollIntervalSeconds,
            connectTimeoutSeconds: config.database.timeoutSeconds,
          })
        : localChanges(logger);
    return { database: { knex, sql, box, lock, close }, stores, changes };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The ENS names (ens/names.ts) when ENS_CHAIN has an RPC: a resolution may hold an address for its deadline
 * (RPC_TIMEOUT_MS) and a minute more for the database, before another instance may take it over.
 */
function startEnsNames(config: Config, stores: Stores, clock: Clock, logger: Logger, metrics: Metrics): EnsNames | undefined {
  const ens = config.ens;
  if (!ens) return undefined;
  const reader = createEnsReader({
    chainId: ens.chainId,
    rpcUrl: ens.rpcUrl,
    registry: ens.registry,
    timeoutMs: config.rpc.timeoutMs,
    onRpcCall: (outcome) => metrics.rpcCall(ens.chainId, 'ens', outcome),
  });
  return createEnsNames({
    store: stores.names,
    reader,
    clock,
    logger,
    chainId: ens.chainId,
    ttlSeconds: ens.ttlSeconds,
    retrySeconds: ens.retrySeconds,
    leaseMs: config.rpc.timeoutMs + 60_000,
  });
}

/** PGlite's one process, or the in-memory stores: announcements never leave the process. */
const localChanges = (logger: Logger) => createLocalChangeFeed((err: unknown, kind: ChangeKind) => logger.error({ err, kind }, 'a change listener failed'));

export async function createContext(config: Config, overrides: ContextOverrides = {}): Promise<AppContext> {
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const opened = overrides.stores
    ? { database: undefined, stores: overrides.stores, changes: localChanges(logger) }
    : await openDatabase(config, clock, logger);
  const { database, stores, changes } = opened;
  try {
    if (database) {
      // Every sealed value must open, checked before serving: not at the first token request of one client.
      const counts = await checkSealedKeys(database.knex, database.box);
      const stale = counts.filter((c) => c.keyId !== database.box.keyId).reduce((n, c) => n + c.count, 0);
      if (stale) logger.warn({ values: stale }, 'values sealed under a previous encryption key: run `wallet-oidc secrets reseal`');
    }
    const metrics = createMetrics(clock);
    if (database) metrics.watchDatabase(database.knex as unknown as WatchedDatabase);
    let cookieKeys = config.cookieKeys;
    if (!cookieKeys) {
      cookieKeys = await stores.secrets.getOrCreate('cookie_keys', generateCookieKeys);
      if (database) logger.warn('COOKIE_KEYS is not set: using generated keys stored in the database (development only)');
    }
    const recovery = chooseRecover();
    const ensNames = overrides.nameResolver ? undefined : startEnsNames(config, stores, clock, logger, metrics);
    const ports: Ports = {
      // EOAs by recovery, with no network; a contract wallet's signature over its chain's RPC (RPC_URLS), when there is one.
      signatureVerifier:
        overrides.signatureVerifier ??
        createContractVerifier({
          recover: recovery.recover,
          rpcUrls: config.rpc.urls,
          timeoutMs: config.rpc.timeoutMs,
          logger,
          onRpcCall: (chainId, outcome) => metrics.rpcCall(chainId, 'signature', outcome),
        }),
      // ENS names when ENS_CHAIN has an RPC, resolved in the background (ens/names.ts); otherwise the short address.
      nameResolver: overrides.nameResolver ?? ensNames ?? noNames,
      // Shared by every instance through the database; per process only with the in-memory stores.
      rateLimiter: overrides.rateLimiter ?? createRateLimiter(database ? createPostgresRateCounters(database.sql) : memoryRateCounters),
      // Metrics count every outcome whichever observer reports it.
      observer: combineObservers(overrides.observer ?? createLogObserver(logger), metrics.observer),
    };
    const pages = createPages({ viewsDir: VIEWS_DIR, brand: config.brand });
    const clientAdapter = createClientAdapter(stores.clients, config.clientCacheTtlSeconds);
    const findAccount = createFindAccount(stores.accounts, ports.nameResolver);
    const buildProvider = (signingKeys: JWK[]) =>
      createProvider({
        config,
        adapter: (name: string) => (name === 'Client' ? clientAdapter : createPayloadAdapter(stores.payloads, name, clock)),
        findAccount,
        signingKeys,
        cookieKeys,
        pages: pages.provider,
        observer: ports.observer,
      });
    // oidc-provider reads its keys once, in its constructor: a changed key set gets a new Provider (docs/architecture.md, Signing keys).
    let provider: Provider | undefined;
    const keys = await startSigningKeys({
      store: stores.signingKeys,
      clock,
      logger,
      onChange: (set) => void (provider = buildProvider(set.jwks)),
    });
    try {
      provider = buildProvider(keys.current().jwks);
      // What each announced change makes this instance forget or re-read (docs/operations.md, "Changes reach every instance").
      changes.on('clients', (clientId) => clientAdapter.forget(clientId));
      changes.on('accounts', (sub) => findAccount.forget(sub));
      // A failed re-read is logged and retried by the keys component itself.
      changes.on('keys', () => void keys.reload().catch(() => undefined));
      if (overrides.receiveChanges !== false) await changes.start();
    } catch (err) {
      keys.close();
      throw err;
    }
    metrics.watchSigningKeys(() => keys.current().keys.filter((k) => k.state !== 'retired'));
    const siwe = createSiweService({
      nonces: stores.nonces,
      verifier: ports.signatureVerifier,
      clock,
      issuer: config.issuer,
      allowedChains: config.allowedChains,
      ttlSeconds: config.challengeTtlSeconds,
      extraStatement: config.brand.statement,
    });
    return {
      ...ports,
      config,
      clock,
      logger,
      database,
      stores,
      siwe,
      pages,
      get provider() {
        return provider!;
      },
      keys,
      metrics,
      changes,
      signatureRecovery: recovery.implementation,
      async checkReadiness() {
        try {
          // The migrations table's read also proves the database answers.
          if (database && (await migrationStatus(database.knex)).pending.length) return { reason: 'migrations_pending' };
          if (!(await stores.signingKeys.list()).some((k) => !k.retiredAt)) return { reason: 'signing_keys_missing' };
          return undefined;
        } catch (err) {
          // A refused connection is an AggregateError with an empty message: its code says more.
          const { message, code } = err as { message?: string; code?: string };
          return { reason: 'database_unreachable', cause: message || code || String(err) };
        }
      },
      async close() {
        keys.close();
        await ensNames?.close();
        await changes.close();
        await database?.close();
      },
    };
  } catch (err) {
    await changes.close();
    await database?.close();
    throw err;
  }
}
