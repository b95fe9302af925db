// Bearer-secret ids stored as their SHA-256 (src/oidc/token-ids.ts): converts the rows written before,
// so live sessions and tokens keep working across the upgrade. Every instance must run the new code:
// an older one would write ids in clear that the new one no longer finds, and the reverse.
import type { Knex } from 'knex';

/** The models of src/oidc/token-ids.ts HASHED_MODELS when this migration was written (a migration never changes). */
const HASHED_MODELS = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'Session',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'PreAuthorizedCode',
];

/** Rows converted per statement. */
const BATCH = 500;

type Payload = Record<string, unknown>;

/** The payload as the adapter now writes it: no `jti` for a bearer-secret model, no session cookie copy in an Interaction. */
function strip(model: string, payload: Payload): Payload | undefined {
  if (model !== 'Interaction') {
    const { jti: _jti, ...rest } = payload;
    return rest;
  }
  const session = payload.session as Payload | null | undefined;
  if (!session || typeof session !== 'object' || !('cookie' in session)) return undefined;
  const { cookie: _cookie, ...rest } = session;
  return { ...payload, session: rest };
}

export async function up(knex: Knex): Promise<void> {
  // The keys first, then each batch by key: a converted row's new id must never be visited again.
  const keys = (await knex('oidc_payloads')
    .whereIn('model', [...HASHED_MODELS, 'Interaction'])
    .select('model', 'id')) as { model: string; id: string }[];
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = keys.slice(i, i + BATCH).map((k) => [k.model, k.id]);
    const rows = (await knex('oidc_payloads').whereIn(['model', 'id'], batch).select('model', 'id', 'payload')) as {
      model: string;
      id: string;
      payload: Payload;
    }[];
    const changed = rows.flatMap((row) => {
      const payload = strip(row.model, row.payload);
      return payload ? [{ model: row.model, id: row.id, payload: JSON.stringify(payload) }] : [];
    });
    if (!changed.length) continue;
    // The payload is rewritten in JavaScript: Postgres's json functions refuse a \u0000 escape, which a
    // stored request parameter may hold. The id is hashed as hashTokenId does: SHA-256 of its UTF-8
    // bytes, lower-case hex.
    await knex.raw(
      `UPDATE oidc_payloads p
         SET id = CASE WHEN p.model = 'Interaction' THEN p.id ELSE encode(sha256(convert_to(p.id, 'UTF8')), 'hex') END,
             payload = v.payload::json
        FROM unnest(?::text[], ?::text[], ?::text[]) AS v(model, id, payload)
       WHERE p.model = v.model AND p.id = v.id`,
      [changed.map((r) => r.model), changed.map((r) => r.id), changed.map((r) => r.payload)],
    );
  }
}

/** A hash cannot be turned back into its token: going back ends every session and token (users sign in again). */
export async function down(knex: Knex): Promise<void> {
  await knex('oidc_payloads').whereIn('model', HASHED_MODELS).delete();
}
