// ENS names by address (the `ens_names` table): the last answer of each background resolution, when to ask
// again, and the lease that lets one instance at a time ask (src/ens/names.ts). One indexed read per lookup.
import type { NameAnswer, NameStore, StoredName } from '../ens/ports.ts';
import type { Sql } from './sql.ts';

type Row = { name: string | null; avatar: string | null; resolved_at: Date | null; refresh_after: Date; failures: number };

const FIND = 'SELECT name, avatar, resolved_at, refresh_after, failures FROM ens_names WHERE address = $1';
// A missing address gets a row that is due at once and leased; an existing one is leased only while it is due and
// nobody else holds it. The row lock of the upsert makes it one winner among racing instances.
const LEASE = `INSERT INTO ens_names (address, refresh_after, leased_until) VALUES ($1, $2, $3)
  ON CONFLICT (address) DO UPDATE SET leased_until = EXCLUDED.leased_until
  WHERE ens_names.refresh_after <= $2 AND (ens_names.leased_until IS NULL OR ens_names.leased_until <= $2)
  RETURNING address`;
const ANSWER = `UPDATE ens_names SET name = $2, avatar = $3, resolved_at = $4, refresh_after = $5, failures = 0, leased_until = NULL
  WHERE address = $1`;
const FAILURE = 'UPDATE ens_names SET refresh_after = $2, failures = failures + 1, leased_until = NULL WHERE address = $1';

export function createNameStore(sql: Sql): NameStore {
  return {
    async find(address): Promise<StoredName | undefined> {
      const [row] = (await sql.query<Row>(FIND, [address], 'ens_name_find')).rows;
      return (
        row && {
          name: row.name ?? undefined,
          avatar: row.avatar ?? undefined,
          resolvedAt: row.resolved_at ?? undefined,
          refreshAfter: row.refresh_after,
          failures: row.failures,
        }
      );
    },
    async lease(address, now, until) {
      return (await sql.query(LEASE, [address, now, until], 'ens_name_lease')).rowCount === 1;
    },
    async saveAnswer(address, answer: NameAnswer, at, refreshAfter) {
      await sql.query(ANSWER, [address, answer?.name ?? null, answer?.avatar ?? null, at, refreshAfter], 'ens_name_answer');
    },
    async saveFailure(address, retryAfter) {
      await sql.query(FAILURE, [address, retryAfter], 'ens_name_failure');
    },
  };
}
