// The benchmarked server: the same wiring as src/main.ts (services.ts), plus a count of database
// queries, printed as `queries <n>` on SIGUSR2 so bench/run.ts can report queries per login.
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/logger.ts';
import { createServer, openStorage } from '../src/services.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
const storage = await openStorage(config, { logger });
let queries = 0;
storage.db.on('query', () => queries++);
const { app } = await createServer(config, storage, { logger });
const server = app.listen(config.port, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGUSR2', () => console.log(`queries ${queries}`));
process.once('SIGTERM', () => server.close(() => void storage.db.destroy().then(() => process.exit(0))));
