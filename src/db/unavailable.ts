// Which driver errors mean "the database is not there right now" (503, retry) rather than a bug (500).
// Only errors that say nothing about our SQL count: a syntax error, a constraint or a type mismatch
// stays a bug whatever the moment, and is logged as one.
import knex from 'knex';
import { DatabaseUnavailableError } from '../errors.ts';

/** Socket and resolver errors on the way to the server (Node's `err.code`). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs (PostgreSQL Appendix A) of a server that is going away, not accepting connections yet,
 * out of connections, or that cancelled a statement over its time: class 08 (connection exception)
 * is matched as a class.
 */
const SERVER_CODES = new Set([
  '57P01', // admin_shutdown: the server is stopping, or this backend was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, recovering, or in a failover
  '53300', // too_many_connections
  '57014', // query_canceled: statement_timeout, or a cancel from the operator
]);

/**
 * node-postgres reports a lost or timed-out connection as a plain Error without a code; these are
 * its exact texts (pg/lib/client.js), so matching them is the only way to tell them from a bug.
 */
const DRIVER_MESSAGES = [/^Connection terminated/, /^Query read timeout$/, /is not queryable$/, /^timeout expired$/];

function isOutage(err: unknown): boolean {
  if (err instanceof knex.KnexTimeoutError) return true; // no connection from the pool within the acquire timeout
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with every attempt in one AggregateError.
  if (err instanceof AggregateError && err.errors.length > 0 && err.errors.every(isOutage)) return true;
  return !('code' in err) && DRIVER_MESSAGES.some((m) => m.test(err.message));
}

/** Whether `err` (or what caused it) says the database is unreachable or did not answer in time. */
export function isDatabaseOutage(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError || isOutage(e)) return true;
  }
  return false;
}

/** The error to throw on: a DatabaseUnavailableError for an outage, anything else unchanged. */
export function classifyDatabaseError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailableError || !isDatabaseOutage(err)) return err;
  return new DatabaseUnavailableError(err);
}
