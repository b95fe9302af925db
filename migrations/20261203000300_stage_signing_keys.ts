// Staged signing-key rotation: a key is published from its creation, signs from `activates_at` and is withdrawn
// at `retired_at`. Existing keys were active from their creation: that is their activation time.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.timestamp('activates_at', { useTz: true });
    t.timestamp('retired_at', { useTz: true });
  });
  await knex('signing_keys').update({ activates_at: knex.ref('created_at') });
  await knex.schema.alterTable('signing_keys', (t) => {
    t.dropNullable('activates_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.dropColumn('activates_at');
    t.dropColumn('retired_at');
  });
}
