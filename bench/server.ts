// The benchmarked server: the same context as src/main.ts, plus a count of database queries,
// printed as `queries <n>` on SIGUSR2 so bench/run.ts can report queries per login, and the metrics
// listener (METRICS_PORT, announced as `metrics <port>`), whose RPC call counter bench/run.ts reads.
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/index.ts';
import { createContext } from '../src/context.ts';
import { createApp } from '../src/http/app.ts';
import { startMetricsServer } from '../src/metrics/server.ts';

const config = loadConfig(process.env);
const ctx = await createContext(config);
let queries = 0;
ctx.database!.knex.on('query', () => queries++);
const metrics = config.metrics && (await startMetricsServer(ctx.metrics, ctx.logger, config.metrics));
if (metrics) console.log(`metrics ${metrics.port}`);
const server = createApp(ctx).listen(config.port, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGUSR2', () => console.log(`queries ${queries}`));
process.once('SIGTERM', () =>
  server.close(async () => {
    await metrics?.close();
    await ctx.close();
    process.exit(0);
  }),
);
