// Prometheus metrics on a registry of this context's own (never prom-client's global one, so several
// servers in one process keep apart): logins by outcome, reason and client; request latency by route
// template; the database pool and query latency; rate-limit refusals; signing key age; process metrics.
// Every label has a bounded set of values: a request can never mint a new series.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.ts';
import { REASONS } from '../errors.ts';
import type { Observer } from '../observer.ts';

const PREFIX = 'wallet_oidc_';
/** Client ids get a label each up to this many; later ones share `other`. Only registered clients reach a login. */
export const MAX_CLIENT_LABELS = 100;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** What the metrics read from the database: knex's events and its tarn pool, typed loosely (no import of db/). */
export interface WatchedDatabase {
  on(event: 'query', listener: (query: { __knexQueryUid?: string }) => void): unknown;
  on(event: 'query-response', listener: (response: unknown, query: { __knexQueryUid?: string }) => void): unknown;
  on(event: 'query-error', listener: (err: unknown, query: { __knexQueryUid?: string }) => void): unknown;
  client: { pool?: Pool | undefined };
}
interface Pool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max: number;
}

export interface Metrics {
  registry: Registry;
  /** Counts each login outcome reported to the Observer port. */
  observer: Observer;
  /** One request answered: `route` is a template or an oidc-provider endpoint name, never a raw path. */
  request(route: string, method: string, status: number, seconds: number): void;
  /** A request refused 429 by the rate limit `rule` (its configured name). */
  rateLimited(rule: string): void;
  /** One JSON-RPC call to a chain (contract wallets, ENS) and how it ended; chain ids come from RPC_URLS, so they are bounded. */
  rpcCall(chainId: number, purpose: 'signature' | 'ens', outcome: 'ok' | 'error' | 'unavailable'): void;
  /** Times every query knex and the `sql` helper run, and reads the pool at each scrape. */
  watchDatabase(db: WatchedDatabase): void;
  /** The published keys, read at each scrape: the active one of each algorithm gives the key age. */
  watchSigningKeys(published: () => ReadonlyArray<{ alg: string; state: string; createdAt: Date }>): void;
}

export function createMetrics(clock: Clock): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const logins = new Counter({
    name: `${PREFIX}logins_total`,
    help: 'Login attempts by outcome (success, refused), reason code (src/errors.ts) and client id.',
    labelNames: ['outcome', 'reason', 'client'] as const,
    registers,
  });
  const providerProblems = new Counter({
    name: `${PREFIX}provider_problems_total`,
    help: 'oidc-provider server errors and failed back-channel logouts.',
    labelNames: ['kind'] as const,
    registers,
  });
  const requests = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time to answer a request, by route template or oidc-provider endpoint name, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const rateLimited = new Counter({
    name: `${PREFIX}rate_limited_total`,
    help: 'Requests refused with 429 by a rate limit, by rule.',
    labelNames: ['rule'] as const,
    registers,
  });
  const rpcCalls = new Counter({
    name: `${PREFIX}rpc_calls_total`,
    help: 'JSON-RPC calls to a chain (RPC_URLS) by chain id, purpose (signature, ens) and outcome (ok, error: the node answered an error, unavailable: no usable answer).',
    labelNames: ['chain', 'purpose', 'outcome'] as const,
    registers,
  });
  const queries = new Histogram({
    name: `${PREFIX}db_query_duration_seconds`,
    help: 'Time from sending a database query to its answer, by outcome (ok, error).',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });

  const clients = new Set<string>();
  const clientLabel = (clientId: string | undefined) => {
    if (!clientId) return 'none';
    if (clients.has(clientId)) return clientId;
    if (clients.size >= MAX_CLIENT_LABELS) return 'other';
    clients.add(clientId);
    return clientId;
  };

  return {
    registry,
    observer: {
      login(e) {
        const reason = e.outcome === 'success' ? '' : e.reason && e.reason in REASONS ? e.reason : 'other';
        logins.inc({ outcome: e.outcome, reason, client: clientLabel(e.clientId) });
      },
      providerProblem(p) {
        providerProblems.inc({ kind: p.kind });
      },
    },
    request(route, method, status, seconds) {
      requests.observe({ route, method: METHODS.has(method) ? method : 'other', status: String(status) }, seconds);
    },
    rateLimited(rule) {
      rateLimited.inc({ rule });
    },
    rpcCall(chainId, purpose, outcome) {
      rpcCalls.inc({ chain: String(chainId), purpose, outcome });
    },
    watchDatabase(db) {
      // Started queries by knex's query id; bounded in case a driver ever drops an answer event.
      const started = new Map<string, bigint>();
      const done = (outcome: 'ok' | 'error', uid: string | undefined) => {
        const start = uid === undefined ? undefined : started.get(uid);
        if (start === undefined) return;
        started.delete(uid!);
        queries.observe({ outcome }, Number(process.hrtime.bigint() - start) / 1e9);
      };
      db.on('query', (q) => {
        if (q.__knexQueryUid === undefined) return;
        if (started.size >= 10_000) started.clear();
        started.set(q.__knexQueryUid, process.hrtime.bigint());
      });
      db.on('query-response', (_response, q) => done('ok', q.__knexQueryUid));
      db.on('query-error', (_err, q) => done('error', q.__knexQueryUid));
      const pool = (read: (p: Pool) => number) =>
        function (this: Gauge) {
          const p = db.client.pool;
          if (p) this.set(read(p));
        };
      new Gauge({ name: `${PREFIX}db_pool_connections_used`, help: 'Pooled database connections in use.', collect: pool((p) => p.numUsed()), registers });
      new Gauge({ name: `${PREFIX}db_pool_connections_free`, help: 'Pooled database connections idle.', collect: pool((p) => p.numFree()), registers });
      new Gauge({
        name: `${PREFIX}db_pool_connections_max`,
        help: 'The pool size (DATABASE_POOL_MAX or PGlite’s one).',
        collect: pool((p) => p.max),
        registers,
      });
      new Gauge({
        name: `${PREFIX}db_pool_pending_acquires`,
        help: 'Callers waiting for a pooled database connection.',
        collect: pool((p) => p.numPendingAcquires()),
        registers,
      });
    },
    watchSigningKeys(published) {
      new Gauge({
        name: `${PREFIX}signing_key_age_seconds`,
        help: 'Age since creation of the key that signs ID tokens now, per algorithm.',
        labelNames: ['alg'],
        collect() {
          // Read at each scrape: a rotation or an activation shows without a restart.
          this.reset();
          const now = clock().getTime();
          for (const k of published()) if (k.state === 'active') this.set({ alg: k.alg }, (now - k.createdAt.getTime()) / 1000);
        },
        registers,
      });
      new Gauge({
        name: `${PREFIX}signing_keys_published`,
        help: 'Signing keys published in the JWKS (pending, active and previous).',
        collect() {
          this.set(published().length);
        },
        registers,
      });
    },
  };
}
