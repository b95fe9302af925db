// The first schema: oidc-provider payloads, clients, keys, secrets, SIWE nonces, accounts, login events.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Every oidc-provider model in one table. Payloads change between versions, so they are stored
  // whole, as `json`: never queried inside, and unlike jsonb it accepts a \u0000 escape that a
  // request parameter may carry (jsonb would refuse it and turn bad input into a 500).
  await knex.schema.createTable('oidc_payloads', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.json('payload').notNullable();
    t.text('grant_id');
    t.text('uid');
    t.text('user_code');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.primary(['model', 'id']);
  });
  await knex.raw('CREATE INDEX oidc_payloads_grant_id ON oidc_payloads (model, grant_id) WHERE grant_id IS NOT NULL');
  await knex.raw('CREATE INDEX oidc_payloads_uid ON oidc_payloads (model, uid) WHERE uid IS NOT NULL');
  await knex.raw('CREATE INDEX oidc_payloads_user_code ON oidc_payloads (model, user_code) WHERE user_code IS NOT NULL');
  await knex.raw('CREATE INDEX oidc_payloads_expires_at ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL');

  await knex.schema.createTable('oidc_clients', (t) => {
    t.text('client_id').primary();
    // RFC 7591 metadata without the secret (json, as for payloads).
    t.json('metadata').notNullable();
    // The secret, sealed with ENCRYPTION_KEY (client_secret_jwt and HS256 need it in clear, so a hash would not do).
    t.text('secret_sealed');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable();
    t.text('private_jwk_sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // Generated secrets kept for development (cookie keys, the development encryption key).
  await knex.schema.createTable('provider_secrets', (t) => {
    t.text('name').primary();
    t.jsonb('value').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('siwe_nonces', (t) => {
    t.text('nonce').primary();
    t.text('interaction_uid').notNullable();
    // The challenge's number within its interaction: unique, so the per-interaction cap holds under concurrency.
    t.integer('slot').notNullable();
    t.unique(['interaction_uid', 'slot']);
    t.text('client_id').notNullable();
    t.text('address').notNullable();
    // EIP-155 chain ids go beyond 2^31 (e.g. 11297108109).
    t.bigInteger('chain_id').notNullable();
    // The exact text issued: the signed message must equal it byte for byte.
    t.text('message').notNullable();
    t.timestamp('issued_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
    t.timestamp('consumed_at', { useTz: true });
  });

  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('sub').notNullable().unique();
    t.text('address').notNullable();
    t.text('wallet_type').notNullable();
    t.timestamp('first_login_at', { useTz: true }).notNullable();
    t.timestamp('last_login_at', { useTz: true }).notNullable();
    t.integer('login_count').notNullable().defaultTo(1);
  });

  await knex.schema.createTable('login_events', (t) => {
    t.bigIncrements('id');
    t.timestamp('occurred_at', { useTz: true }).notNullable().index();
    t.text('outcome').notNullable(); // 'success' | 'refused'
    t.text('reason');
    t.text('interaction_uid');
    t.text('client_id');
    t.text('address');
    t.bigInteger('chain_id');
    t.text('sub');
    t.text('ip');
    t.text('user_agent');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['login_events', 'accounts', 'siwe_nonces', 'provider_secrets', 'signing_keys', 'oidc_clients', 'oidc_payloads']) {
    await knex.schema.dropTableIfExists(table);
  }
}
