// One measured load run against a started target: the load generator's logins (or attempts) and what the
// run cost each process around them: server, Postgres backends, the local chain, and the server's RPC calls.
import { cpuMsOf, peakRssMiB, pct, round, runLoad } from './processes.ts';

export const REDIRECT_URI = 'https://rp.bench.example/callback';

export interface Target {
  name: 'wallet-oidc' | 'ceiling';
  issuer: string;
  publicIssuer: string;
  pid: number;
  /** Postgres backend pids serving this target, and its query counter; absent for the ceiling. */
  pgPids?: () => Promise<number[]>;
  queries?: () => Promise<number>;
  /** The RPC calls the server has made (its `wallet_oidc_rpc_calls_total`); absent without a metrics listener. */
  rpcCalls?: () => Promise<number>;
  /** The local chain's node, when the server's RPC_URLS point at it. */
  chainPid?: number;
}

export interface BenchClient {
  client_id: string;
  client_secret?: string;
}

/** What a run's logins are made with: contract wallets from a file on a chain, or attempts that must get `verifier_unavailable`. */
export interface Wallets {
  walletsFile?: string;
  chainId?: number;
  expectUnavailable?: boolean;
}

/** Sums every series of `wallet_oidc_rpc_calls_total` on a Prometheus metrics listener. */
export async function scrapeRpcCalls(metricsPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (!res.ok) throw new Error(`metrics: ${res.status}`);
  let total = 0;
  for (const line of (await res.text()).split('\n')) if (line.startsWith('wallet_oidc_rpc_calls_total{')) total += Number(line.split(' ').pop());
  return total;
}

/** What every login load against `target` as `client` shares (runLoad's options without the counts). */
export const loginLoad = (target: Target, client: BenchClient) =>
  ({
    issuer: target.issuer,
    publicIssuer: target.publicIssuer,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    redirectUri: REDIRECT_URI,
    mode: 'login',
  }) as const;

export async function measureLogins(target: Target, client: BenchClient, concurrency: number, count: number, wallets: Wallets = {}) {
  const pgBefore = new Map((await (target.pgPids?.() ?? Promise.resolve([]))).map((pid) => [pid, cpuMsOf(pid)]));
  const queriesBefore = (await target.queries?.()) ?? 0;
  const rpcBefore = (await target.rpcCalls?.()) ?? 0;
  const serverBefore = cpuMsOf(target.pid);
  const chainBefore = target.chainPid ? cpuMsOf(target.chainPid) : 0;
  const load = await runLoad({
    ...loginLoad(target, client),
    concurrency,
    count,
    ...wallets,
  });
  const serverMs = cpuMsOf(target.pid) - serverBefore;
  const chainMs = target.chainPid ? cpuMsOf(target.chainPid) - chainBefore : 0;
  let pgMs = 0;
  for (const pid of (await target.pgPids?.()) ?? []) pgMs += cpuMsOf(pid) - (pgBefore.get(pid) ?? 0);
  const queries = ((await target.queries?.()) ?? 0) - queriesBefore;
  const rpcCalls = target.rpcCalls ? (await target.rpcCalls()) - rpcBefore : null;
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const verifySorted = [...load.verifyLatencies].sort((a, b) => a - b);
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
    verifyP50Ms: round(pct(verifySorted, 50)),
    verifyP95Ms: round(pct(verifySorted, 95)),
    verifyMaxMs: round(verifySorted.at(-1) ?? NaN),
    serverCpuMsPerLogin: round(serverMs / n, 2),
    postgresCpuMsPerLogin: target.pgPids ? round(pgMs / n, 2) : null,
    chainCpuMsPerLogin: target.chainPid ? round(chainMs / n, 2) : null,
    loadgenCpuMsPerLogin: round(load.cpuMs / n, 2),
    queriesPerLogin: target.queries ? round(queries / n, 1) : null,
    rpcCalls,
    rpcCallsPerLogin: rpcCalls === null ? null : round(rpcCalls / n, 2),
    serverPeakRssMiB: peakRssMiB(target.pid),
  };
}

export async function measureStatic(target: Target, mode: 'discovery' | 'jwks', requests: number) {
  const load = await runLoad({ issuer: target.issuer, mode, concurrency: 16, count: requests });
  return {
    target: target.name,
    endpoint: mode,
    requests: load.completed,
    errors: load.errors,
    requestsPerSecond: round(load.completed / (load.wallMs / 1000)),
  };
}
