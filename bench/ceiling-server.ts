// The ceiling: the same provider configuration and login code over oidc-provider's memory adapter,
// with no database at all. Started by bench/run.ts; prints `listening <port>` when ready.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ClientMetadata, JWK } from 'oidc-provider';
import { loadConfig } from '../src/config/index.ts';
import { createApp } from '../src/http/app.ts';
import { createPages } from '../src/http/pages.ts';
import { createLogger } from '../src/logger.ts';
import { createProvider } from '../src/oidc/provider.ts';
import { VIEWS_DIR } from '../src/services.ts';
import { createSiweService } from '../src/siwe/challenge.ts';
import { createMemoryAccountStore, createMemoryNonceStore, noLoginEvents } from './memory-stores.ts';

const config = loadConfig(process.env);
const logger = createLogger('error');
const client = JSON.parse(process.env.BENCH_CLIENT!) as ClientMetadata;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'RS256', use: 'sig' };
const accounts = createMemoryAccountStore();
const pages = createPages({ viewsDir: VIEWS_DIR, brand: config.brand });
const provider = createProvider({
  config,
  adapter: undefined,
  staticClients: [client],
  accounts,
  signingKeys: [signingKey],
  cookieKeys: [randomBytes(32).toString('base64url')],
  pages: pages.provider,
});
const clock = () => new Date();
const app = createApp({
  checkHealth: async () => {},
  provider,
  siwe: createSiweService({
    nonces: createMemoryNonceStore(),
    clock,
    issuer: config.issuer,
    allowedChains: config.allowedChains,
    ttlSeconds: config.challengeTtlSeconds,
  }),
  accounts,
  loginEvents: noLoginEvents,
  pages,
  clock,
  logger,
  subFormat: config.subFormat,
  allowedChains: config.allowedChains,
  issuerOrigin: config.issuer.origin,
  trustProxy: config.trustProxy,
  viewsDir: VIEWS_DIR,
});
const server = app.listen(config.port, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
