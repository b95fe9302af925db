// Logins handed to another device (src/http/handoffs.ts, src/db/handoffs.ts): one row per interaction, holding the
// SHA-256 of the link's secret, never the secret; the device that claimed it, as the SHA-256 of its cookie. A device may
// claim it until `claim_until` (HANDOFF_TTL); the row lasts until `expires_at`, when the interaction it continues has ended.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE login_handoffs (
    id text PRIMARY KEY,
    interaction_uid text NOT NULL UNIQUE,
    code text NOT NULL,
    created_at timestamptz NOT NULL,
    claim_until timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    device text,
    claimed_at timestamptz,
    signed_at timestamptz
  )`);
  // The sweep deletes by expiry.
  await knex.raw('CREATE INDEX login_handoffs_expires_at ON login_handoffs (expires_at)');
  // A login signed through a handoff link: its IP and user agent are the other device's.
  await knex.raw('ALTER TABLE login_events ADD COLUMN handoff boolean');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE login_events DROP COLUMN IF EXISTS handoff');
  await knex.schema.dropTableIfExists('login_handoffs');
}
