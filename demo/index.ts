// The demo behind `npm run demo`: wallet-oidc, configured exactly as `npm start` configures it
// (the environment over `.env`), and a small relying party (demo/rp.ts) in one process. The RP
// registers itself as a client on first run and finds that client again, by name, on later runs.
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { runCommand, serverRuntime } from '../src/cli/commands.ts';
import { loadConfig } from '../src/config/index.ts';
import { createContext, type AppContext } from '../src/context.ts';
import { startSweeper } from '../src/db/sweep.ts';
import { UsageError } from '../src/errors.ts';
import { createApp } from '../src/http/app.ts';
import { registerClient, updateClient } from '../src/oidc/clients.ts';
import type { StoredClient } from '../src/oidc/ports.ts';
import { createRelyingParty } from './rp.ts';

export const DEMO_CLIENT_NAME = 'wallet-oidc demo';

export interface Demo {
  /** wallet-oidc's issuer, e.g. http://localhost:3000 */
  issuer: string;
  /** The demo RP's home page, e.g. http://localhost:3001 */
  rpUrl: string;
  clientId: string;
  ctx: AppContext;
  /** Stops both servers and closes the database. */
  close(): Promise<void>;
}

/** Starts both servers from `env` (what readEnvironment() returns: process.env over `.env`). */
export async function startDemo(env: Record<string, string | undefined>): Promise<Demo> {
  let config = loadConfig(env);
  const demoPort = env.DEMO_PORT ? Number(env.DEMO_PORT) : 3001;
  if (!Number.isInteger(demoPort) || demoPort < 0 || demoPort > 65535) throw new UsageError('DEMO_PORT: must be a whole number from 0 to 65535');

  // Both ports are taken first, so a busy one is reported at once, before the database opens.
  // Until the apps are ready, a request gets a 503 rather than waiting forever.
  const handlers: { oidc?: http.RequestListener; rp?: http.RequestListener } = {};
  const oidcServer = http.createServer((req, res) => (handlers.oidc ?? starting)(req, res));
  const rpServer = http.createServer((req, res) => (handlers.rp ?? starting)(req, res));
  let ctx: AppContext | undefined;
  try {
    const port = await listen(oidcServer, config.port, config.host, 'PORT');
    const rpPort = await listen(rpServer, demoPort, config.host, 'DEMO_PORT');
    // PORT=0 (any free port): the issuer follows the port actually taken, unless ISSUER is set.
    if (port !== config.port) config = loadConfig({ ...env, PORT: String(port) });

    ctx = await createContext(config);
    handlers.oidc = createApp(ctx).callback();
    // As `npm start` does: CLI commands on the demo's data directory run here.
    const served = ctx;
    served.database?.lock?.serve((argv) => runCommand(argv, serverRuntime(served)));
    ctx.logger.info({ issuer: config.issuer.origin, port, database: config.database.kind, signatureRecovery: ctx.signatureRecovery }, 'wallet-oidc listening');

    const rpUrl = `http://localhost:${rpPort}`;
    const client = await demoClient(ctx, `${rpUrl}/callback`);
    handlers.rp = await createRelyingParty({
      issuer: config.issuer,
      clientId: client.client_id,
      clientSecret: client.client_secret!,
      redirectUri: `${rpUrl}/callback`,
    }).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      throw new UsageError(
        `the demo relying party could not read ${config.issuer.origin}/.well-known/openid-configuration (${reason}): ISSUER must reach this server`,
      );
    });

    const started = ctx;
    const sweeper = startSweeper(ctx.database!.knex, {
      clock: ctx.clock,
      logger: ctx.logger,
      intervalSeconds: config.sweepIntervalSeconds,
      loginEventRetentionDays: config.loginEventRetentionDays,
    });
    return {
      issuer: config.issuer.origin,
      rpUrl,
      clientId: client.client_id,
      ctx: started,
      async close() {
        sweeper.stop();
        await Promise.all([stop(rpServer), stop(oidcServer)]);
        await started.close();
      },
    };
  } catch (err) {
    await Promise.all([stop(rpServer), stop(oidcServer)]);
    await ctx?.close();
    throw err;
  }
}

/** The demo's client: registered on the first run, found by name afterwards (its redirect URI follows DEMO_PORT). */
async function demoClient(ctx: AppContext, redirectUri: string): Promise<StoredClient> {
  const { provider, stores, logger } = ctx;
  const wanted = { redirect_uris: [redirectUri], token_endpoint_auth_method: 'client_secret_post' };
  const existing = (await stores.clients.list()).find((c) => c.client_name === DEMO_CLIENT_NAME);
  if (!existing) {
    const client = await registerClient(provider, stores.clients, {
      client_name: DEMO_CLIENT_NAME,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...wanted,
    });
    logger.info({ clientId: client.client_id }, 'demo client registered');
    return client;
  }
  if (existing.token_endpoint_auth_method === wanted.token_endpoint_auth_method && existing.redirect_uris?.join() === redirectUri) {
    logger.info({ clientId: existing.client_id }, 'demo client reused');
    return existing;
  }
  logger.info({ clientId: existing.client_id, redirectUri }, 'demo client updated');
  return (await updateClient(provider, stores.clients, existing.client_id, wanted))!;
}

/** The periodic sweep of expired rows, as `npm start` runs it. */
async function listen(server: http.Server, port: number, host: string | undefined, variable: string): Promise<number> {
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new UsageError(`port ${port} is already in use: set ${variable} to a free port, e.g. ${variable}=${port + 100} npm run demo`);
    if (code === 'EACCES') throw new UsageError(`port ${port} needs privileges: set ${variable} to a port above 1023`);
    throw err;
  }
  return (server.address() as AddressInfo).port;
}

function starting(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '2' }).end('starting, try again in a moment\n');
}

function stop(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
