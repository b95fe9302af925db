// `npm run bench`: complete logins against wallet-oidc on a real Postgres and against the in-memory
// ceiling, at concurrency 1, 4 and 16; discovery and JWKS throughput; storage per login; cost as accounts grow.
// Prints a table and writes bench/results/<time>.json. Never run by `npm test`; only local addresses.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { loadConfig } from '../src/config/index.ts';
import { createContext, PROJECT_ROOT } from '../src/context.ts';
import { createLogger } from '../src/logger.ts';
import { registerClient } from '../src/oidc/clients.ts';

const smoke = process.argv.includes('--smoke');
const growth = !smoke && !process.argv.includes('--no-growth');
const baseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const COUNTS: Record<number, number> = smoke ? { 1: 5, 4: 8, 16: 16 } : { 1: 150, 4: 400, 16: 800 };
const STATIC_REQUESTS = smoke ? 50 : 4000;
const MAX_SECONDS = smoke ? 60 : 120;
const ROUNDS = smoke ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
const REDIRECT_URI = 'https://rp.bench.example/callback';
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in these ticks.
const canPin = os.availableParallelism() >= 2 && fs.existsSync('/usr/bin/taskset');

function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The most memory (RSS) a process has held since it started, in MiB. */
function peakRssMiB(pid: number): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

/** Starts a node entry pinned to `core` and resolves its port once it prints `listening <port>`. */
async function startNode(entry: string, core: number, env: Record<string, string>): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const args = ['--import', 'tsx', entry];
  const child = canPin
    ? spawn('taskset', ['-c', String(core), process.execPath, ...args], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffer = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d;
      for (let i = buffer.indexOf('\n'); i !== -1; i = buffer.indexOf('\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        lines.push(line);
        const m = line.match(/^listening (\d+)$/);
        if (m) resolve(Number(m[1]));
      }
    });
  });
  return { child, port, lines };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface LoadResult {
  completed: number;
  errors: number;
  errorSamples: string[];
  latencies: number[];
  wallMs: number;
  cpuMs: number;
}

function runLoad(options: Record<string, unknown>): Promise<LoadResult> {
  const args = ['--import', 'tsx', 'bench/loadgen.ts', JSON.stringify({ maxSeconds: MAX_SECONDS, ...options })];
  const child = canPin ? spawn('taskset', ['-c', '1', process.execPath, ...args], { cwd: PROJECT_ROOT }) : spawn(process.execPath, args, { cwd: PROJECT_ROOT });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => process.stderr.write(d));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`loadgen exited with ${code}`)))),
  );
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

interface Target {
  name: 'wallet-oidc' | 'ceiling';
  issuer: string;
  publicIssuer: string;
  pid: number;
  /** Postgres backend pids serving this target, and its query counter; absent for the ceiling. */
  pgPids?: () => Promise<number[]>;
  queries?: () => Promise<number>;
}

async function measureLogins(target: Target, client: { client_id: string; client_secret?: string }, concurrency: number, count: number) {
  const pgBefore = new Map((await (target.pgPids?.() ?? Promise.resolve([]))).map((pid) => [pid, cpuMsOf(pid)]));
  const queriesBefore = (await target.queries?.()) ?? 0;
  const serverBefore = cpuMsOf(target.pid);
  const load = await runLoad({
    issuer: target.issuer,
    publicIssuer: target.publicIssuer,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    redirectUri: REDIRECT_URI,
    mode: 'login',
    concurrency,
    count,
  });
  const serverMs = cpuMsOf(target.pid) - serverBefore;
  let pgMs = 0;
  for (const pid of (await target.pgPids?.()) ?? []) pgMs += cpuMsOf(pid) - (pgBefore.get(pid) ?? 0);
  const queries = ((await target.queries?.()) ?? 0) - queriesBefore;
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const n = Math.max(load.completed, 1);
  return {
    target: target.name,
    concurrency,
    logins: load.completed,
    errors: load.errors,
    errorSamples: load.errorSamples,
    loginsPerSecond: round(load.completed / (load.wallMs / 1000)),
    p50Ms: round(pct(sorted, 50)),
    p95Ms: round(pct(sorted, 95)),
    p99Ms: round(pct(sorted, 99)),
    serverCpuMsPerLogin: round(serverMs / n, 2),
    postgresCpuMsPerLogin: target.pgPids ? round(pgMs / n, 2) : null,
    loadgenCpuMsPerLogin: round(load.cpuMs / n, 2),
    queriesPerLogin: target.queries ? round(queries / n, 1) : null,
    serverPeakRssMiB: peakRssMiB(target.pid),
  };
}

async function measureStatic(target: Target, mode: 'discovery' | 'jwks') {
  const load = await runLoad({ issuer: target.issuer, mode, concurrency: 16, count: STATIC_REQUESTS });
  return {
    target: target.name,
    endpoint: mode,
    requests: load.completed,
    errors: load.errors,
    requestsPerSecond: round(load.completed / (load.wallMs / 1000)),
  };
}

async function main(): Promise<void> {
  const dbName = `wallet_oidc_bench_${randomBytes(4).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`CREATE DATABASE ${dbName}`);
  const url = new URL(baseUrl);
  url.pathname = `/${dbName}`;
  const bench = knex({ client: 'pg', connection: url.href, pool: { min: 0, max: 1 } });
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: round(os.totalmem() / 2 ** 30), node: process.version, pinned: canPin },
    smoke,
    logins: [] as unknown[],
    static: [] as unknown[],
    growth: [] as unknown[],
    storage: [] as unknown[],
  };
  const children: ChildProcess[] = [];
  try {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: url.href,
      ISSUER: `https://127.0.0.1:${port}`,
      TRUST_PROXY: 'true',
      PORT: String(port),
      COOKIE_KEYS: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      SWEEP_INTERVAL: '0',
      // One load generator on one address makes thousands of logins a minute.
      LOGIN_RATE_LIMIT: '0',
      AUTHORIZATION_RATE_LIMIT: '0',
      TOKEN_RATE_LIMIT: '0',
      END_SESSION_RATE_LIMIT: '0',
      LOG_LEVEL: 'warn',
    };
    // The issuer is https (production mode) but the bench talks plain http on loopback, as a TLS proxy would.
    const issuerForClients = `http://127.0.0.1:${port}`;
    const ctx = await createContext(loadConfig(env), { logger: createLogger('warn') });
    const client = await registerClient(ctx.provider, ctx.stores.clients, {
      client_name: 'bench',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
    });
    await ctx.close();

    const targets: Array<() => Promise<{ target: Target; child: ChildProcess }>> = [
      async () => {
        const { child, lines } = await startNode('bench/server.ts', 0, env);
        const target: Target = {
          name: 'wallet-oidc',
          issuer: issuerForClients,
          publicIssuer: env.ISSUER,
          pid: child.pid!,
          pgPids: async () =>
            (await bench.raw('SELECT pid FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()', [dbName])).rows.map(
              (r: { pid: number }) => r.pid,
            ),
          queries: async () => {
            const before = lines.length;
            child.kill('SIGUSR2');
            for (let i = 0; i < 100 && !lines.slice(before).some((l) => l.startsWith('queries ')); i++) await new Promise((r) => setTimeout(r, 10));
            return Number(
              lines
                .slice(before)
                .find((l) => l.startsWith('queries '))!
                .split(' ')[1],
            );
          },
        };
        return { target, child };
      },
      async () => {
        const { child } = await startNode('bench/ceiling-server.ts', 0, { ...env, PORT: String(port), BENCH_CLIENT: JSON.stringify(client) });
        return { target: { name: 'ceiling', issuer: issuerForClients, publicIssuer: env.ISSUER, pid: child.pid! }, child };
      },
    ];

    // Rounds alternate the two targets, so a noisy minute on a shared machine hits both; the table shows medians.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const start of targets) {
        const { target, child } = await start();
        children.push(child);
        process.stderr.write(`round ${round}/${ROUNDS}, ${target.name}: warming up\n`);
        await measureLogins(target, client, 4, smoke ? 4 : 60);
        for (const concurrency of [1, 4, 16]) {
          process.stderr.write(`round ${round}/${ROUNDS}, ${target.name}: logins at concurrency ${concurrency}\n`);
          (results.logins as unknown[]).push({ round, ...(await measureLogins(target, client, concurrency, COUNTS[concurrency]!)) });
        }
        for (const mode of ['discovery', 'jwks'] as const) (results.static as unknown[]).push({ round, ...(await measureStatic(target, mode)) });
        if (round === 1 && target.name === 'wallet-oidc') results.storage = await measureStorage(bench);
        if (growth && round === ROUNDS && target.name === 'wallet-oidc') {
          for (const accounts of [10_000, 1_000_000]) {
            process.stderr.write(`wallet-oidc: seeding ${accounts} accounts and expired payloads\n`);
            await seed(bench, accounts);
            (results.growth as unknown[]).push({ accounts, ...(await measureLogins(target, client, 16, COUNTS[16]!)) });
          }
        }
        await stop(child);
      }
    }
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await bench.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  }
  report(results);
}

/** The tables' live rows and on-disk bytes (indexes and TOAST included), per login made so far on this fresh database. */
async function measureStorage(db: knex.Knex) {
  // One login per fresh wallet, so accounts counts the logins made; nothing was swept (SWEEP_INTERVAL=0).
  const { count } = (await db('accounts').count({ count: '*' }).first()) as { count: string };
  const logins = Number(count);
  await db.raw('ANALYZE');
  const { rows } = await db.raw(
    `SELECT relname AS table, n_live_tup AS rows, pg_total_relation_size(relid) AS bytes
     FROM pg_stat_user_tables WHERE relname NOT LIKE 'knex%' ORDER BY bytes DESC`,
  );
  return (rows as Array<{ table: string; rows: string; bytes: string }>).map((r) => ({
    table: r.table,
    rows: Number(r.rows),
    rowsPerLogin: round(Number(r.rows) / logins, 2),
    bytesPerLogin: Math.round(Number(r.bytes) / logins),
    logins,
  }));
}

/** Grows accounts (and as many expired oidc_payloads rows, as a real deployment accumulates between sweeps) to `total`. */
async function seed(db: knex.Knex, total: number): Promise<void> {
  const { count } = (await db('accounts').count({ count: '*' }).first()) as { count: string };
  const missing = total - Number(count);
  if (missing <= 0) return;
  await db.raw(
    `INSERT INTO accounts (sub, address, wallet_type, first_login_at, last_login_at, login_count)
     SELECT a, a, 'eoa', now() - interval '30 days', now() - interval '1 day', 3
     FROM (SELECT '0x' || lpad(to_hex(g), 40, '0') AS a FROM generate_series(1, ?) g) s
     ON CONFLICT (sub) DO NOTHING`,
    [missing],
  );
  await db.raw(
    `INSERT INTO oidc_payloads (model, id, payload, grant_id, expires_at)
     SELECT 'AccessToken', 'seed' || g || '_' || md5(random()::text), '{"kind":"AccessToken"}', 'g' || g, now() - interval '1 hour'
     FROM generate_series(1, ?) g`,
    [missing],
  );
  // Settle the new rows now (visibility map, statistics), so autovacuum does not compete with the measurement.
  await db.raw('VACUUM ANALYZE accounts, oidc_payloads');
}

/** The sample with the median throughput among rows that share `keys`. */
function medians(rows: Array<Record<string, unknown>>, keys: string[], by: string): Array<Record<string, unknown>> {
  const groups = new Map<string, Array<Record<string, unknown>>>();
  for (const r of rows) {
    const k = keys.map((key) => String(r[key])).join('|');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => [...g].sort((a, b) => Number(a[by]) - Number(b[by]))[Math.floor((g.length - 1) / 2)]!);
}

function report(results: Record<string, unknown>): void {
  const logins = medians(results.logins as Array<Record<string, unknown>>, ['target', 'concurrency'], 'loginsPerSecond');
  const staticRows = medians(results.static as Array<Record<string, unknown>>, ['target', 'endpoint'], 'requestsPerSecond');
  results.medians = { logins, static: staticRows };
  const ceiling16 = logins.find((r) => r.target === 'ceiling' && r.concurrency === 16);
  const ours16 = logins.find((r) => r.target === 'wallet-oidc' && r.concurrency === 16);
  if (ceiling16 && ours16) results.ratioAtConcurrency16 = round(Number(ours16.loginsPerSecond) / Number(ceiling16.loginsPerSecond), 2);
  const cols = [
    'target',
    'concurrency',
    'logins',
    'errors',
    'loginsPerSecond',
    'p50Ms',
    'p95Ms',
    'p99Ms',
    'serverCpuMsPerLogin',
    'postgresCpuMsPerLogin',
    'loadgenCpuMsPerLogin',
    'queriesPerLogin',
    'serverPeakRssMiB',
  ];
  console.log(`\nComplete logins (median of ${ROUNDS} alternating round${ROUNDS > 1 ? 's' : ''})`);
  console.table(logins.map((r) => Object.fromEntries(cols.map((c) => [c, r[c]]))));
  console.log('Discovery and JWKS (concurrency 16)');
  console.table(staticRows.map(({ round: _r, ...r }) => r));
  if ((results.growth as unknown[]).length) {
    console.log('Logins at concurrency 16 as accounts grow');
    console.table((results.growth as Array<Record<string, unknown>>).map((r) => Object.fromEntries(['accounts', ...cols.slice(2)].map((c) => [c, r[c]]))));
  }
  if ((results.storage as unknown[]).length) {
    console.log('Storage after the first round, per login (nothing swept)');
    console.table(results.storage);
  }
  if (results.ratioAtConcurrency16 !== undefined) console.log(`wallet-oidc / ceiling throughput at concurrency 16: ${results.ratioAtConcurrency16}`);
  const dir = path.join(PROJECT_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${String(results.date).replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`full results: ${path.relative(PROJECT_ROOT, file)}`);
  const all = [...(results.logins as Array<Record<string, unknown>>), ...(results.growth as Array<Record<string, unknown>>)];
  if (all.some((r) => Number(r.errors) > 0)) {
    console.error('errors during the run:', all.flatMap((r) => r.errorSamples as string[]).slice(0, 5));
    process.exitCode = 1;
  }
}

await main();
