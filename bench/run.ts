// `npm run bench`: complete logins against wallet-oidc on a real Postgres and against the in-memory
// ceiling, at concurrency 1, 4 and 16; discovery and JWKS throughput; storage per login; cost as accounts grow;
// then contract wallets (Safes, EIP-1271 and EIP-6492) on a local Hardhat chain, and EOA logins and contract
// wallets with the RPC unreachable. Prints tables and writes bench/results/<time>.json. Never run by
// `npm test`; only local addresses.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { DEFAULT_CHAINS } from '../src/config/chains.ts';
import { loadConfig } from '../src/config/index.ts';
import { createContext, PROJECT_ROOT } from '../src/context.ts';
import { createLogger } from '../src/logger.ts';
import { registerClient } from '../src/oidc/clients.ts';
import { blackHoleRpc, refusedRpc, startBenchChain, type BenchChain } from './contract-wallets.ts';
import { loginLoad, measureLogins, measureStatic, REDIRECT_URI, scrapeRpcCalls, type BenchClient, type Target } from './measure.ts';
import { canPin, round, runLoad, startNode, stop } from './processes.ts';

const smoke = process.argv.includes('--smoke');
const growth = !smoke && !process.argv.includes('--no-growth');
const baseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const COUNTS: Record<number, number> = smoke ? { 1: 5, 4: 8, 16: 16 } : { 1: 150, 4: 400, 16: 800 };
const STATIC_REQUESTS = smoke ? 50 : 4000;
const ROUNDS = smoke ? 1 : Number(process.env.BENCH_ROUNDS ?? 3);
/** Contract-wallet logins per kind (deployed, counterfactual), at concurrency 16; and attempts against an unreachable RPC. */
const CONTRACT_LOGINS = smoke ? 8 : 400;
const UNREACHABLE_ATTEMPTS = smoke ? 4 : 64;
/** RPC_TIMEOUT_MS while the RPC is unreachable: short, as an operator who expects a fast RPC would set it. */
const UNREACHABLE_TIMEOUT_MS = 500;
/** Chains whose RPC cannot answer: refused (nothing listens), and a black hole (accepts, never answers). */
const REFUSED_CHAIN = 31338;
const BLACK_HOLE_CHAIN = 31339;

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
    contractWallets: [] as unknown[],
    unreachableRpc: [] as unknown[],
  };
  const children: ChildProcess[] = [];
  let chain: BenchChain | undefined;
  try {
    process.stderr.write('starting the local chain and deploying Safe 1.4.1\n');
    chain = await startBenchChain();
    const chainId = chain.chain.chainId;
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
      VERIFY_ADDRESS_RATE_LIMIT: '0',
      LOG_LEVEL: 'warn',
      // Contract wallets on the local chain; EOA logins must never call it (their RPC calls are counted).
      ALLOWED_CHAINS: [...Object.keys(DEFAULT_CHAINS), chainId].join(','),
      RPC_URLS: `${chainId}=${chain.chain.url}`,
      ENS_CHAIN: 'off',
      METRICS_PORT: '0',
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

    /** wallet-oidc on the bench database; `overrides` change its environment (another RPC, its deadline). */
    const startWalletOidc = async (overrides: Record<string, string> = {}) => {
      const { child, lines } = await startNode('bench/server.ts', 0, { ...env, ...overrides });
      children.push(child);
      const metricsPort = Number(lines.find((l) => l.startsWith('metrics '))!.split(' ')[1]);
      const target: Target = {
        name: 'wallet-oidc',
        issuer: issuerForClients,
        publicIssuer: env.ISSUER,
        pid: child.pid!,
        pgPids: async () =>
          (await bench.raw('SELECT pid FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()', [dbName])).rows.map((r: { pid: number }) => r.pid),
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
        rpcCalls: () => scrapeRpcCalls(metricsPort),
        chainPid: chain!.chain.pid,
      };
      return { target, child };
    };
    const targets: Array<() => Promise<{ target: Target; child: ChildProcess }>> = [
      () => startWalletOidc(),
      async () => {
        const { child } = await startNode('bench/ceiling-server.ts', 0, { ...env, PORT: String(port), BENCH_CLIENT: JSON.stringify(client) });
        children.push(child);
        return { target: { name: 'ceiling', issuer: issuerForClients, publicIssuer: env.ISSUER, pid: child.pid! }, child };
      },
    ];

    process.stderr.write(`deploying ${CONTRACT_LOGINS} Safes, and as many counterfactual ones\n`);
    const wallets = {
      warmUp: await chain.walletsFile('counterfactual', 4),
      deployed: await chain.walletsFile('deployed', CONTRACT_LOGINS),
      counterfactual: await chain.walletsFile('counterfactual', CONTRACT_LOGINS),
    };

    // Rounds alternate the two targets, so a noisy minute on a shared machine hits both; the table shows medians.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const start of targets) {
        const { target, child } = await start();
        process.stderr.write(`round ${round}/${ROUNDS}, ${target.name}: warming up\n`);
        await measureLogins(target, client, 4, smoke ? 4 : 60);
        for (const concurrency of [1, 4, 16]) {
          process.stderr.write(`round ${round}/${ROUNDS}, ${target.name}: logins at concurrency ${concurrency}\n`);
          (results.logins as unknown[]).push({ round, ...(await measureLogins(target, client, concurrency, COUNTS[concurrency]!)) });
        }
        for (const mode of ['discovery', 'jwks'] as const)
          (results.static as unknown[]).push({ round, ...(await measureStatic(target, mode, STATIC_REQUESTS)) });
        if (round === 1 && target.name === 'wallet-oidc') results.storage = await measureStorage(bench);
        if (round === ROUNDS && target.name === 'wallet-oidc') results.contractWallets = await measureContractWallets(target, wallets, chainId, client);
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
    results.unreachableRpc = await measureUnreachableRpc(wallets.counterfactual, startWalletOidc, client);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await chain?.close();
    await bench.destroy();
    await admin.raw(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.destroy();
  }
  report(results);
}

type StartWalletOidc = (overrides?: Record<string, string>) => Promise<{ target: Target; child: ChildProcess }>;

/**
 * EOA, deployed-Safe (EIP-1271) and counterfactual-Safe (EIP-6492) logins at concurrency 16, one after another, on a
 * warm server whose RPC_URLS name the local chain; a few contract logins first warm up (and check the endpoint's chain id).
 */
async function measureContractWallets(target: Target, files: Record<'warmUp' | 'deployed' | 'counterfactual', string>, chainId: number, client: BenchClient) {
  await measureLogins(target, client, 4, 4, { walletsFile: files.warmUp, chainId });
  const rows = [];
  for (const wallets of ['eoa', 'deployed', 'counterfactual'] as const) {
    process.stderr.write(`contract wallets: ${wallets} logins at concurrency 16\n`);
    const walletsFile = wallets === 'eoa' ? undefined : files[wallets];
    rows.push({ wallets, ...(await measureLogins(target, client, 16, wallets === 'eoa' ? COUNTS[16]! : CONTRACT_LOGINS, { walletsFile, chainId })) });
  }
  return rows;
}

/**
 * One server whose RPCs cannot answer, RPC_TIMEOUT_MS short: chain REFUSED_CHAIN's is a port nothing listens on,
 * BLACK_HOLE_CHAIN's accepts and never answers. EOA logins at concurrency 16; contract-wallet attempts at 16 on each
 * chain, each of which must answer 503 `verifier_unavailable`; and (not in the smoke run) EOA logins again while 4
 * attempts at a time wait on the black hole beside them.
 */
async function measureUnreachableRpc(walletsFile: string, startWalletOidc: StartWalletOidc, client: BenchClient) {
  const blackHole = await blackHoleRpc();
  const rows = [];
  try {
    const { target, child } = await startWalletOidc({
      ALLOWED_CHAINS: [...Object.keys(DEFAULT_CHAINS), REFUSED_CHAIN, BLACK_HOLE_CHAIN].join(','),
      RPC_URLS: `${REFUSED_CHAIN}=${await refusedRpc()},${BLACK_HOLE_CHAIN}=${blackHole.url}`,
      RPC_TIMEOUT_MS: String(UNREACHABLE_TIMEOUT_MS),
    });
    const attempts = (chainId: number) => ({ walletsFile, chainId, expectUnavailable: true });
    process.stderr.write(`RPC unreachable: EOA logins, then contract-wallet attempts${smoke ? '' : ', then both at once'}\n`);
    if (!smoke) await measureLogins(target, client, 4, 60);
    const eoa = await measureLogins(target, client, 16, COUNTS[16]!);
    rows.push({ rpc: 'refused + black hole', run: 'eoa', ...eoa });
    for (const [rpc, chainId] of [
      ['refused', REFUSED_CHAIN],
      ['black hole', BLACK_HOLE_CHAIN],
    ] as const) {
      rows.push({ rpc, run: 'contract attempts', ...(await measureLogins(target, client, 16, UNREACHABLE_ATTEMPTS, attempts(chainId))) });
    }
    if (!smoke) {
      // The attempts go on for as long as the EOA run alone took, beside the same EOA run again.
      const beside = runLoad({
        ...attempts(BLACK_HOLE_CHAIN),
        ...loginLoad(target, client),
        concurrency: 4,
        count: Number.MAX_SAFE_INTEGER,
        maxSeconds: eoa.logins / eoa.loginsPerSecond,
      });
      const mixed = await measureLogins(target, client, 16, COUNTS[16]!);
      const { completed, errors } = await beside;
      rows.push({ rpc: 'black hole', run: 'eoa beside attempts', ...mixed, attemptsBeside: completed, attemptErrorsBeside: errors });
    }
    await stop(child);
  } finally {
    await blackHole.close();
  }
  return rows;
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
  // The EOA runs of every round and the growth runs, with RPC_URLS naming the local chain: they must call it 0 times.
  const eoaRuns = [...(results.logins as Array<Record<string, unknown>>), ...(results.growth as Array<Record<string, unknown>>)].filter(
    (r) => r.target === 'wallet-oidc',
  );
  const eoaRpcCalls = eoaRuns.reduce((n, r) => n + Number(r.rpcCalls), 0);
  console.log(`RPC calls by wallet-oidc during its ${eoaRuns.reduce((n, r) => n + Number(r.logins), 0)} measured EOA logins (RPC_URLS set): ${eoaRpcCalls}`);
  const chainCols = [
    'wallets',
    'logins',
    'errors',
    'loginsPerSecond',
    'p50Ms',
    'p95Ms',
    'p99Ms',
    'verifyP50Ms',
    'serverCpuMsPerLogin',
    'postgresCpuMsPerLogin',
    'chainCpuMsPerLogin',
    'rpcCallsPerLogin',
  ];
  const contract = results.contractWallets as Array<Record<string, unknown>>;
  console.log('Logins at concurrency 16 by wallet: EOA, a deployed Safe (EIP-1271), a counterfactual Safe (EIP-6492), on the local chain');
  console.table(contract.map((r) => Object.fromEntries(chainCols.map((c) => [c, r[c]]))));
  const unreachable = results.unreachableRpc as Array<Record<string, unknown>>;
  console.log(`The RPC unreachable (RPC_TIMEOUT_MS=${UNREACHABLE_TIMEOUT_MS}): EOA logins, contract-wallet attempts (503 verifier_unavailable), both at once`);
  console.table(
    unreachable.map((r) =>
      Object.fromEntries(
        [
          'rpc',
          'run',
          'logins',
          'errors',
          'loginsPerSecond',
          'p50Ms',
          'p95Ms',
          'verifyP50Ms',
          'verifyP95Ms',
          'verifyMaxMs',
          'rpcCallsPerLogin',
          'attemptsBeside',
        ].map((c) => [c, r[c]]),
      ),
    ),
  );
  const dir = path.join(PROJECT_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${String(results.date).replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`full results: ${path.relative(PROJECT_ROOT, file)}`);
  const all = [...(results.logins as Array<Record<string, unknown>>), ...(results.growth as Array<Record<string, unknown>>), ...contract, ...unreachable];
  if (all.some((r) => Number(r.errors) > 0 || Number(r.attemptErrorsBeside ?? 0) > 0)) {
    console.error('errors during the run:', all.flatMap((r) => r.errorSamples as string[]).slice(0, 5));
    process.exitCode = 1;
  }
  const eoaCalling = [...eoaRuns, ...contract.filter((r) => r.wallets === 'eoa'), ...unreachable.filter((r) => r.run === 'eoa')];
  if (eoaCalling.some((r) => Number(r.rpcCalls) !== 0)) {
    console.error(
      'EOA logins called the RPC:',
      eoaCalling.map((r) => r.rpcCalls),
    );
    process.exitCode = 1;
  }
}

await main();
