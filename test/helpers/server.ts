// Starts the real app on a random port, built by createContext like the server: over a test
// database, or over the in-memory stores (`memory: true`) for protocol-level suites.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata } from 'oidc-provider';
import type { Clock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createContext, type AppContext, type ContextOverrides } from '../../src/context.ts';
import { createApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { createMemoryStores } from '../../src/memory/stores.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { describe } from 'node:test';
import { describeEachDatabase, type TestDatabase } from './db.ts';

export interface TestServer {
  ctx: AppContext;
  provider: AppContext['provider'];
  issuer: string;
  port: number;
  config: AppContext['config'];
  addClient(metadata?: Partial<ClientMetadata>): Promise<StoredClient>;
  close(): Promise<void>;
}

export const REDIRECT_URI = 'https://rp.example.com/callback';

export interface TestServerOptions {
  env?: Record<string, string>;
  clock?: Clock;
  port?: number;
  /** Ports or stores to swap in (a verifier, an observer, a rate limiter…). */
  overrides?: ContextOverrides;
}

/** A test database (PGlite or Postgres), or 'memory' for the in-memory stores. */
export async function startTestServer(db: TestDatabase | 'memory', opts: TestServerOptions = {}): Promise<TestServer> {
  const httpServer = http.createServer();
  await new Promise<void>((resolve) => httpServer.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const dbEnv = db === 'memory' ? {} : db.env;
  const clock = opts.clock;
  let config: AppContext['config'];
  let ctx: AppContext;
  try {
    config = loadConfig({ ...dbEnv, ISSUER: issuer, PORT: String(port), SWEEP_INTERVAL: '0', ...opts.env });
    const logger = createLogger(process.env.TEST_LOG_LEVEL === undefined ? 'silent' : config.logLevel);
    ctx = await createContext(config, {
      logger,
      ...(clock ? { clock } : {}),
      ...(db === 'memory' ? { stores: createMemoryStores(clock ?? (() => new Date())) } : {}),
      ...opts.overrides,
    });
  } catch (err) {
    // A start that fails (what some tests assert) must not leave the listener open: the test process would never end.
    await new Promise((resolve) => httpServer.close(resolve));
    throw err;
  }
  httpServer.on('request', createApp(ctx).callback());

  return {
    ctx,
    // The context's current Provider: a new one replaces it when the signing keys change.
    get provider() {
      return ctx.provider;
    },
    issuer,
    port,
    config,
    addClient: (metadata = {}) =>
      registerClient(ctx.provider, ctx.stores.clients, {
        client_name: 'Test RP',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        ...metadata,
      }),
    async close() {
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await ctx.close();
    },
  };
}

/**
 * Registers `suite` once per store: PGlite and Postgres (describeEachDatabase's rules: Postgres when
 * TEST_DATABASE_URL is set, required under CI=true) and the in-memory stores. `start` gives the
 * suite a server on that store (with `opts` as startTestServer takes them); `stop` closes it and drops its database.
 */
export function describeEachStore(
  title: string,
  suite: (start: (opts?: TestServerOptions) => Promise<{ server: TestServer; stop(): Promise<void> }>) => void,
): void {
  describeEachDatabase(title, (backend) =>
    suite(async (opts) => {
      const db = await backend.create();
      const server = await startTestServer(db, opts);
      return { server, stop: async () => (await server.close(), await db.drop()) };
    }),
  );
  describe(`${title} (memory)`, () =>
    suite(async (opts) => {
      const server = await startTestServer('memory', opts);
      return { server, stop: () => server.close() };
    }));
}
