// Starts the real app on a random port over a test database, with an optional fixed clock.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata } from 'oidc-provider';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/logger.ts';
import { createServer, openStorage, type Server } from '../../src/services.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import type { StoredClient } from '../../src/db/clients.ts';
import type { Clock } from '../../src/siwe/challenge.ts';
import type { TestDatabase } from './db.ts';

export interface TestServer extends Server {
  issuer: string;
  port: number;
  config: Config;
  addClient(metadata?: Partial<ClientMetadata>): Promise<StoredClient>;
  close(): Promise<void>;
}

export const REDIRECT_URI = 'https://rp.example.com/callback';

export async function startTestServer(db: TestDatabase, opts: { env?: Record<string, string>; clock?: Clock; port?: number } = {}): Promise<TestServer> {
  const httpServer = http.createServer();
  await new Promise<void>((resolve) => httpServer.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({ ...db.env, ISSUER: issuer, PORT: String(port), SWEEP_INTERVAL: '0', ...opts.env });
  const logger = createLogger(process.env.TEST_LOG_LEVEL === undefined ? 'silent' : config.logLevel);
  const storage = await openStorage(config, { logger });
  const server = await createServer(config, storage, { logger, ...(opts.clock ? { clock: opts.clock } : {}) });
  httpServer.on('request', server.app.callback());

  return {
    ...server,
    issuer,
    port,
    config,
    addClient: (metadata = {}) =>
      registerClient(server.provider, storage.clients, {
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
      await storage.db.destroy();
    },
  };
}
