// ENS names by address (src/db/ens-names.ts): the last answer of a background resolution (a name and avatar,
// or "no name"), when to resolve again, and a lease so that one instance at a time resolves an address.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // `resolved_at` is null until a first answer (a row made by the first lease); `name` null with `resolved_at`
  // set is the answer "no name". `failures` counts resolutions that could not ask since the last answer.
  await knex.raw(`CREATE TABLE ens_names (
    address text PRIMARY KEY,
    name text,
    avatar text,
    resolved_at timestamptz,
    refresh_after timestamptz NOT NULL,
    failures integer NOT NULL DEFAULT 0,
    leased_until timestamptz
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('ens_names');
}
