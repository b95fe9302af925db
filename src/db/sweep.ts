// Removes expired rows in small batches, so a large backlog never holds long locks.
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Db } from './knex.ts';

/** Rows stay this long past expiry: clock tolerance, and reuse detection of consumed codes and tokens. */
export const SWEEP_GRACE_SECONDS = 600;

export interface SweepOptions {
  now: Date;
  graceSeconds?: number;
  loginEventRetentionDays: number;
  batchSize?: number;
}

/** Change feed rows (db/changes.ts) are kept this long: far beyond what an instance re-reads, and enough to see recent changes. */
export const CHANGE_RETENTION_SECONDS = 3600;

export type SweepCounts = Record<'oidc_payloads' | 'siwe_nonces' | 'login_handoffs' | 'login_events' | 'rate_limits' | 'config_changes', number>;

async function deleteInBatches(db: Db, table: string, key: string, column: string, before: Date | number, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db(table)
      .whereIn(key, db(table).select(key).where(column, '<', before).limit(batchSize))
      .delete();
    total += deleted;
    if (deleted < batchSize) return total;
  }
}

export async function sweepExpired(db: Db, opts: SweepOptions): Promise<SweepCounts> {
  const batch = opts.batchSize ?? 5000;
  const cutoff = new Date(opts.now.getTime() - (opts.graceSeconds ?? SWEEP_GRACE_SECONDS) * 1000);
  const eventsCutoff = new Date(opts.now.getTime() - opts.loginEventRetentionDays * 86400_000);
  return {
    // ctid addresses the physical row: oidc_payloads has a composite key.
    oidc_payloads: await deleteInBatches(db, 'oidc_payloads', 'ctid', 'expires_at', cutoff, batch),
    siwe_nonces: await deleteInBatches(db, 'siwe_nonces', 'nonce', 'expires_at', cutoff, batch),
    login_handoffs: await deleteInBatches(db, 'login_handoffs', 'id', 'expires_at', cutoff, batch),
    login_events: await deleteInBatches(db, 'login_events', 'id', 'occurred_at', eventsCutoff, batch),
    // Counters whose window or lockout ended (`expire` is in milliseconds, rate-limiter-flexible's format).
    rate_limits: await deleteInBatches(db, 'rate_limits', 'key', 'expire', cutoff.getTime(), batch),
    config_changes: await deleteInBatches(db, 'config_changes', 'id', 'at', new Date(opts.now.getTime() - CHANGE_RETENTION_SECONDS * 1000), batch),
  };
}

/** Sweeps every `intervalSeconds` (0: never) until stopped; a failed sweep is logged and the next one runs. */
export function startSweeper(db: Db, opts: { clock: Clock; logger: Logger; intervalSeconds: number; loginEventRetentionDays: number }): { stop(): void } {
  if (opts.intervalSeconds <= 0) return { stop: () => {} };
  const sweep = async () => {
    try {
      const counts = await sweepExpired(db, { now: opts.clock(), loginEventRetentionDays: opts.loginEventRetentionDays });
      opts.logger.debug({ counts }, 'swept expired rows');
    } catch (err) {
      opts.logger.error({ err }, 'sweep failed');
    }
  };
  const timer = setInterval(sweep, opts.intervalSeconds * 1000).unref();
  return { stop: () => clearInterval(timer) };
}
