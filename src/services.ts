// Builds every long-lived part from the configuration: database, stores, keys, provider, app.
// Shared by the server (main.ts), the CLI and the tests, so all three run the same wiring.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from './config/index.ts';
import { createAccountStore, type AccountStore } from './db/accounts.ts';
import { createClientAdapter, createClientStore, type ClientStore } from './db/clients.ts';
import { createPayloadAdapter } from './db/oidc-adapter.ts';
import { createDb, migrate, type Db } from './db/knex.ts';
import { createLoginEventStore } from './db/login-events.ts';
import { createNonceStore } from './db/nonces.ts';
import { generateCookieKeys, generateEncryptionKey, getOrCreateSecret } from './db/provider-secrets.ts';
import { createSecretBox, type SecretBox } from './db/secret-box.ts';
import { createSigningKeys, type SigningKeys } from './db/signing-keys.ts';
import { createApp } from './http/app.ts';
import { createPages } from './http/pages.ts';
import type { Logger } from './logger.ts';
import { createProvider } from './oidc/provider.ts';
import { createSiweService, type Clock } from './siwe/challenge.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VIEWS_DIR = path.join(PROJECT_ROOT, 'views');

export interface Storage {
  db: Db;
  box: SecretBox;
  clients: ClientStore;
  accounts: AccountStore;
  signingKeys: SigningKeys;
}

/** Opens the database, applies migrations, and unlocks the sealed secrets. */
export async function openStorage(config: Config, opts: { logger: Logger }): Promise<Storage> {
  const db = createDb(config.database);
  try {
    const applied = await migrate(db);
    if (applied.length) opts.logger.info({ applied }, 'database migrated');
    let key = config.encryptionKey;
    if (!key) {
      // Development only (production refuses to start without ENCRYPTION_KEY): keep a generated key beside the data.
      key = Buffer.from(await getOrCreateSecret(db, 'encryption_key', generateEncryptionKey), 'hex');
      opts.logger.warn('ENCRYPTION_KEY is not set: using a generated key stored in the database (development only)');
    }
    const box = createSecretBox(key);
    return { db, box, clients: createClientStore(db, box), accounts: createAccountStore(db), signingKeys: createSigningKeys(db, box) };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

export interface Server {
  app: Koa;
  provider: Provider;
  storage: Storage;
}

export async function createServer(config: Config, storage: Storage, opts: { logger: Logger; clock?: Clock }): Promise<Server> {
  const { db, accounts, clients, signingKeys } = storage;
  const clock = opts.clock ?? (() => new Date());
  await signingKeys.ensure();
  let cookieKeys = config.cookieKeys;
  if (!cookieKeys) {
    cookieKeys = await getOrCreateSecret(db, 'cookie_keys', generateCookieKeys);
    opts.logger.warn('COOKIE_KEYS is not set: using generated keys stored in the database (development only)');
  }
  const pages = createPages({ viewsDir: VIEWS_DIR, brand: config.brand });
  const clientAdapter = createClientAdapter(clients, config.clientCacheTtlSeconds);
  const provider = createProvider({
    config,
    adapter: (name: string) => (name === 'Client' ? clientAdapter : createPayloadAdapter(db, name)),
    accounts,
    signingKeys: await signingKeys.list(),
    cookieKeys,
    pages: pages.provider,
  });
  provider.on('server_error', (_ctx, err) => opts.logger.error({ err }, 'oidc-provider server_error'));
  // A back-channel logout that fails (RP down, host blocked by the outbound guard) is otherwise silent.
  provider.on('backchannel.error', (_ctx, err, client) =>
    opts.logger.warn({ err, clientId: client.clientId, uri: client.backchannelLogoutUri }, 'back-channel logout failed'),
  );
  const siwe = createSiweService({
    nonces: createNonceStore(db),
    clock,
    issuer: config.issuer,
    allowedChains: config.allowedChains,
    ttlSeconds: config.challengeTtlSeconds,
    extraStatement: config.brand.statement,
  });
  const app = createApp({
    checkHealth: async () => {
      await db.raw('SELECT 1');
    },
    provider,
    siwe,
    accounts,
    loginEvents: createLoginEventStore(db),
    pages,
    clock,
    logger: opts.logger,
    subFormat: config.subFormat,
    allowedChains: config.allowedChains,
    issuerOrigin: config.issuer.origin,
    trustProxy: config.trustProxy,
    viewsDir: VIEWS_DIR,
  });
  return { app, provider, storage };
}
