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

export async function up(knex: Knex): Promise<void> {
  // The id as hashTokenId encodes it: SHA-256 of the UTF-8 bytes, lower-case hex. The payload loses
  // its `jti` (the token itself). json_each and json_object_agg keep the payload `json`: a cast to
  // jsonb would refuse a \u0000 escape that a stored request parameter may hold.
  await knex.raw(
    `UPDATE oidc_payloads p
       SET id = encode(sha256(convert_to(p.id, 'UTF8')), 'hex'),
           payload = COALESCE((SELECT json_object_agg(e.key, e.value) FROM json_each(p.payload) e WHERE e.key <> 'jti'), '{}'::json)
     WHERE p.model = ANY(?)`,
    [HASHED_MODELS],
  );
  // An Interaction started within a session holds the session's cookie value in session.cookie,
  // which oidc-provider never reads back.
  await knex.raw(
    `UPDATE oidc_payloads p
       SET payload = (
         SELECT json_object_agg(
           e.key,
           CASE WHEN e.key = 'session'
             THEN COALESCE((SELECT json_object_agg(s.key, s.value) FROM json_each(e.value) s WHERE s.key <> 'cookie'), '{}'::json)
             ELSE e.value END)
         FROM json_each(p.payload) e)
     WHERE p.model = 'Interaction' AND json_typeof(p.payload -> 'session') = 'object' AND (p.payload -> 'session') ->> 'cookie' IS NOT NULL`,
  );
}

/** A hash cannot be turned back into its token: going back ends every session and token (users sign in again). */
export async function down(knex: Knex): Promise<void> {
  await knex('oidc_payloads').whereIn('model', HASHED_MODELS).delete();
}
