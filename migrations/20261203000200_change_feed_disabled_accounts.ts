// The change feed's table (src/db/changes.ts), disabled accounts, and the account each oidc-provider
// payload belongs to, so disabling an account ends its sessions, grants and tokens in one indexed DELETE.
import type { Knex } from 'knex';

/** Rows updated per statement. */
const BATCH = 500;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('config_changes', (t) => {
    t.bigIncrements('id');
    t.text('kind').notNullable();
    t.text('key');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now()).index();
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.timestamp('disabled_at', { useTz: true });
    t.text('disabled_reason');
  });
  await knex.schema.alterTable('oidc_payloads', (t) => t.text('account_id'));
  // Live sessions and tokens written before can be ended too. Read in JavaScript: Postgres's json operators
  // refuse a \u0000 escape, which a stored request parameter (an authorization code's nonce) may hold.
  // As the adapter now writes them: a row's account is its payload's `accountId` (an Interaction has none of its own).
  const rows = (await knex('oidc_payloads').whereNot('model', 'Interaction').select('model', 'id', 'payload')) as {
    model: string;
    id: string;
    payload: { accountId?: unknown };
  }[];
  const owned = rows.filter((r) => typeof r.payload.accountId === 'string');
  for (let i = 0; i < owned.length; i += BATCH) {
    const batch = owned.slice(i, i + BATCH);
    await knex.raw(
      `UPDATE oidc_payloads p SET account_id = v.account_id
         FROM unnest(?::text[], ?::text[], ?::text[]) AS v(model, id, account_id)
        WHERE p.model = v.model AND p.id = v.id`,
      [batch.map((r) => r.model), batch.map((r) => r.id), batch.map((r) => r.payload.accountId as string)],
    );
  }
  await knex.raw('CREATE INDEX oidc_payloads_account_id ON oidc_payloads (account_id) WHERE account_id IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_payloads', (t) => t.dropColumn('account_id'));
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('disabled_at');
    t.dropColumn('disabled_reason');
  });
  await knex.schema.dropTableIfExists('config_changes');
}
