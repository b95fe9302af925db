// The NameResolver of ENS names, off the login path: `lookup` answers from what is stored (ens_names, through a
// small in-process cache), and an address that is missing or due is resolved in the background by the reader
// (deduplicated, a few at a time, a bounded queue), under a lease in the database so that one instance at a time
// asks the chain for it. A login asks for its address at once (`prepare`) without waiting; the claims show the
// name once it is known. "No name" is an answer, kept for ENS_CACHE_TTL; a failure keeps the last answer and is
// tried again after ENS_RETRY_INTERVAL.
import { AsyncResource } from 'node:async_hooks';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { NameResolver, ResolvedName } from '../oidc/ports.ts';
import type { NameStore, StoredName } from './ports.ts';
import type { EnsReader } from './reader.ts';

export interface EnsNamesOptions {
  store: NameStore;
  reader: EnsReader;
  clock: Clock;
  logger: Logger;
  /** ENS_CHAIN: a contract wallet bound to another chain has no name here (its address on ENS_CHAIN may be someone else's). */
  chainId: number;
  /** Seconds an answer is served before it is asked again (ENS_CACHE_TTL). */
  ttlSeconds: number;
  /** Seconds before a failed resolution is tried again (ENS_RETRY_INTERVAL). */
  retrySeconds: number;
  /** How long one resolution may hold an address; past it another instance may take it over (a crash). */
  leaseMs: number;
  /** Resolutions running at once in this process. */
  concurrency?: number;
  /** Addresses waiting beyond those running; more are not queued (a later lookup asks again). */
  queueLimit?: number;
}

export interface EnsNames extends NameResolver {
  prepare(address: string, chainId?: number): void;
  /** Resolves once nothing is queued or running. */
  settled(): Promise<void>;
  /** Stops the background work: drops the queue, aborts the resolutions running and waits for them. */
  close(): Promise<void>;
}

/** What this process knows of an address, and when (clock ms) to read the table again. */
interface Known {
  resolved: ResolvedName | undefined;
  recheckAt: number;
}

const resolvedOf = (row: Pick<StoredName, 'name' | 'avatar'> | undefined): ResolvedName | undefined =>
  row?.name ? { name: row.name, picture: row.avatar } : undefined;

export function createEnsNames(opts: EnsNamesOptions): EnsNames {
  const { store, reader, clock, logger } = opts;
  const concurrency = opts.concurrency ?? 4;
  const queueLimit = opts.queueLimit ?? 1000;
  const known = new LRUCache<string, Known>({ max: 10_000 });
  const queue: string[] = [];
  /** Addresses queued or running: each is resolved once at a time. */
  const pending = new Set<string>();
  const running = new Set<Promise<void>>();
  const closing = new AbortController();
  const waiters: Array<() => void> = [];

  /** One resolution: under the lease, ask the chain and record the answer or the failure. */
  async function resolve(address: string): Promise<void> {
    try {
      const now = clock();
      if (!(await store.lease(address, now, new Date(now.getTime() + opts.leaseMs)))) {
        // Fresh already, or another instance holds it: read its answer when it is due, or when the lease ends.
        const row = await store.find(address);
        const fresh = row && row.refreshAfter > now;
        known.set(address, { resolved: resolvedOf(row), recheckAt: fresh ? row.refreshAfter.getTime() : now.getTime() + opts.leaseMs });
        return;
      }
      let answer;
      try {
        answer = await reader.read(address, closing.signal);
      } catch (err) {
        // Closing is no failure of the chain: the lease ends at its time.
        if (closing.signal.aborted) return;
        const retryAfter = new Date(clock().getTime() + opts.retrySeconds * 1000);
        await store.saveFailure(address, retryAfter);
        known.set(address, { resolved: known.get(address)?.resolved, recheckAt: retryAfter.getTime() });
        logger.warn({ address, err: { message: (err as Error).message } }, 'ENS: could not resolve the name; the last answer stays');
        return;
      }
      const at = clock();
      const refreshAfter = new Date(at.getTime() + opts.ttlSeconds * 1000);
      await store.saveAnswer(address, answer, at, refreshAfter);
      known.set(address, { resolved: resolvedOf(answer ?? undefined), recheckAt: refreshAfter.getTime() });
    } catch (err) {
      // The database failed: forget, so the next lookup reads and asks again.
      known.delete(address);
      logger.warn({ address, err: { message: (err as Error).message } }, 'ENS: could not record a name');
    }
  }

  // Bound to the context this resolver was made in, not to the request that scheduled the work: a resolution must never
  // run its queries inside a login's transaction (db/sql.ts finds the transaction through the async context).
  const pump = AsyncResource.bind(() => {
    while (!closing.signal.aborted && running.size < concurrency && queue.length) {
      const address = queue.shift()!;
      const job: Promise<void> = resolve(address).finally(() => {
        running.delete(job);
        pending.delete(address);
        if (!pending.size) for (const wake of waiters.splice(0)) wake();
        pump();
      });
      running.add(job);
    }
  });

  /** Queues a resolution of `address` unless one is pending; false when the queue is full (or closed). */
  function schedule(address: string): boolean {
    if (pending.has(address)) return true;
    if (closing.signal.aborted || queue.length >= queueLimit) return false;
    pending.add(address);
    queue.push(address);
    pump();
    return true;
  }

  async function lookup(address: string, chainId?: number): Promise<ResolvedName | undefined> {
    if (chainId !== undefined && chainId !== opts.chainId) return undefined;
    const now = clock().getTime();
    const cached = known.get(address);
    if (cached && now < cached.recheckAt) return cached.resolved;
    let row: StoredName | undefined;
    try {
      row = await store.find(address);
    } catch (err) {
      // A name is a courtesy: a claims read never fails for it.
      logger.warn({ address, err: { message: (err as Error).message } }, 'ENS: could not read a stored name');
      return cached?.resolved;
    }
    const resolved = resolvedOf(row);
    if (row && row.refreshAfter.getTime() > now) {
      known.set(address, { resolved, recheckAt: row.refreshAfter.getTime() });
    } else {
      // Missing or due: the last answer meanwhile; the resolution updates what is known when it ends.
      known.set(address, { resolved, recheckAt: schedule(address) ? Number.POSITIVE_INFINITY : 0 });
    }
    return resolved;
  }

  return {
    lookup,
    prepare: (address, chainId) => void lookup(address, chainId),
    settled: () => (pending.size ? new Promise<void>((resolve) => waiters.push(resolve)) : Promise.resolve()),
    async close() {
      closing.abort();
      queue.length = 0;
      await Promise.allSettled([...running]);
      pending.clear();
      for (const wake of waiters.splice(0)) wake();
    },
  };
}
