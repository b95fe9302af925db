// The change feed on Postgres, shared by every instance. A change is a row in `config_changes`, written
// with a NOTIFY in one statement (inside the change's own transaction when the caller is in one): the
// notification is delivered at commit. Each server LISTENs on one dedicated connection, outside knex's pool,
// and also polls the table every CHANGE_POLL_INTERVAL for rows it has not seen, so a notification lost
// while the connection was down (or never sent) arrives at most one interval late.
import pg from 'pg';
import { createDispatcher, type ChangeFeed, type ChangeKind } from '../changes.ts';
import type { Logger } from '../logger.ts';
import type { Sql } from './sql.ts';
import { isDatabaseOutage } from './unavailable.ts';

export const CHANNEL = 'wallet_oidc_changes';
/** Shown in pg_stat_activity, so an operator can tell the feed's connection from the pool's. */
export const APPLICATION_NAME = 'wallet-oidc changes';

// The row and the notification in one statement: both or neither. The payload is only a wake-up call; what
// changed is read from the table, so one path dispatches both notified and polled changes.
// `at` is the statement's own time (clock_timestamp()), not its transaction's start (now()): callers publish last in
// their transaction, so the row is stamped close to its commit, and the window readers re-read (RECENT_SECONDS)
// covers a row committed after a later one even when its transaction started long before.
const PUBLISH = `WITH change AS (INSERT INTO config_changes (kind, key, at) VALUES ($1, $2, clock_timestamp()) RETURNING id)
  SELECT pg_notify('${CHANNEL}', id::text) FROM change`;
/**
 * Ids come from a sequence but commit in any order: a row with a smaller id than one already seen may
 * still appear. Rows of the last RECENT_SECONDS are read again and dispatched once (by id).
 */
const RECENT_SECONDS = 120;
const READ = `SELECT id::text AS id, kind, key FROM config_changes
  WHERE id > $1 OR at > now() - interval '${RECENT_SECONDS} seconds' ORDER BY id`;
const LAST = 'SELECT coalesce(max(id), 0)::text AS id FROM config_changes';

const BACKOFF_MS = { first: 500, max: 30_000 };

export interface PostgresChangeFeedOptions {
  sql: Sql;
  /** The database's URL, for the LISTEN connection. */
  url: string;
  logger: Logger;
  /** Seconds between polls of the table (the safety net under LISTEN). */
  pollIntervalSeconds: number;
  /** Bounds connecting the LISTEN connection, as DATABASE_TIMEOUT bounds the pool's. */
  connectTimeoutSeconds: number;
}

export function createPostgresChangeFeed(opts: PostgresChangeFeedOptions): ChangeFeed {
  const { sql, logger } = opts;
  const dispatcher = createDispatcher((err, kind) => logger.error({ err, kind }, 'a change listener failed'));
  let last = 0n;
  /** Ids dispatched in the last RECENT_SECONDS (with when they were), so a re-read row is not dispatched again. */
  const seen = new Map<string, number>();
  let closed = false;
  let client: pg.Client | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoff = BACKOFF_MS.first;
  /** Whether the last poll failed: an outage is logged once, when it starts and when it ends. */
  let pollFailing = false;
  let reading: Promise<void> | undefined;

  async function readNew(): Promise<void> {
    const { rows } = await sql.query<{ id: string; kind: ChangeKind; key: string | null }>(READ, [last.toString()], 'changes_read');
    const now = Date.now();
    for (const [id, at] of seen) if (now - at > RECENT_SECONDS * 2000) seen.delete(id);
    for (const row of rows) {
      if (seen.has(row.id)) continue;
      seen.set(row.id, now);
      if (BigInt(row.id) > last) last = BigInt(row.id);
      dispatcher.dispatch(row.kind, row.key ?? undefined);
    }
  }

  /** One read at a time; a wake-up during a read reads again after it, so nothing committed meanwhile waits for the poll. */
  let again = false;
  function catchUp(): Promise<void> {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        try {
          await readNew();
          if (pollFailing) logger.info('change feed: reading changes again');
          pollFailing = false;
        } catch (err) {
          if (!isDatabaseOutage(err)) logger.error({ err }, 'change feed: reading changes failed');
          else if (!pollFailing) logger.warn({ err: (err as Error).message }, 'change feed: database unreachable; changes wait for it');
          pollFailing = true;
          return;
        }
      } while (again && !closed);
    })().finally(() => (reading = undefined));
    return reading;
  }

  function scheduleReconnect(): void {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void listen();
    }, backoff);
    retryTimer.unref();
    backoff = Math.min(backoff * 2, BACKOFF_MS.max);
  }

  /** Opens the LISTEN connection; on any failure (now or later) logs one line and tries again with backoff. */
  async function listen(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      connectionString: opts.url,
      application_name: APPLICATION_NAME,
      connectionTimeoutMillis: opts.connectTimeoutSeconds * 1000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (client === c) client = undefined;
      void c.end().catch(() => {});
      if (closed) return;
      // One line per outage: the first failure after a working connection (retries log at debug).
      if (backoff === BACKOFF_MS.first) logger.warn({ err: err?.message }, 'change feed: LISTEN connection lost; reconnecting (polling meanwhile)');
      else logger.debug({ err: err?.message }, 'change feed: LISTEN reconnect failed');
      scheduleReconnect();
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    c.on('notification', () => void catchUp());
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (closed || lost) return void c.end().catch(() => {});
    client = c;
    if (backoff !== BACKOFF_MS.first) logger.info('change feed: LISTEN connection restored');
    backoff = BACKOFF_MS.first;
    // What was announced while no one listened.
    await catchUp();
  }

  return {
    async publish(kind, key) {
      await sql.query(PUBLISH, [kind, key ?? null], 'changes_publish');
    },
    on: dispatcher.on,
    async start() {
      // Changes made before this instance started touch nothing it keeps: start after the newest.
      last = BigInt((await sql.query<{ id: string }>(LAST, [])).rows[0]!.id);
      await listen();
      pollTimer = setInterval(() => void catchUp(), opts.pollIntervalSeconds * 1000);
      pollTimer.unref();
    },
    async close() {
      closed = true;
      clearInterval(pollTimer);
      clearTimeout(retryTimer);
      await reading;
      await client?.end().catch(() => {});
      client = undefined;
    },
  };
}
