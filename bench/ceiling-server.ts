// The ceiling: the same context, provider and login code with every store in memory (createContext's
// `stores` override), no database at all. Started by bench/run.ts; prints `listening <port>` when ready.
import type { AddressInfo } from 'node:net';
import type { ClientMetadata } from 'oidc-provider';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/index.ts';
import { createContext } from '../src/context.ts';
import { createApp } from '../src/http/app.ts';
import { createMemoryStores } from '../src/memory/stores.ts';

const config = loadConfig(process.env);
const ctx = await createContext(config, { stores: createMemoryStores(systemClock) });
await ctx.stores.clients.save(JSON.parse(process.env.BENCH_CLIENT!) as ClientMetadata);
const server = createApp(ctx).listen(config.port, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
