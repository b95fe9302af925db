// Logins handed to another device, over Postgres/PGlite: one row per interaction (ports: http/ports.ts HandoffStore).
import type { Handoff, HandoffStore } from '../http/ports.ts';
import type { Sql } from './sql.ts';

type Row = {
  id: string;
  interaction_uid: string;
  code: string;
  created_at: Date;
  claim_until: Date;
  expires_at: Date;
  device: string | null;
  signed_at: Date | null;
};

const COLUMNS = 'id, interaction_uid, code, created_at, claim_until, expires_at, device, signed_at';
// A new handoff replaces the interaction's earlier one whole: its link, code, claim and signature are gone.
const CREATE = `INSERT INTO login_handoffs (id, interaction_uid, code, created_at, claim_until, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (interaction_uid) DO UPDATE SET id = excluded.id, code = excluded.code, created_at = excluded.created_at,
    claim_until = excluded.claim_until, expires_at = excluded.expires_at, device = NULL, claimed_at = NULL, signed_at = NULL`;
const FIND = `SELECT ${COLUMNS} FROM login_handoffs WHERE id = $1`;
const FIND_BY_INTERACTION = `SELECT ${COLUMNS} FROM login_handoffs WHERE interaction_uid = $1`;
// Conditional updates are the whole race: row locking lets one caller claim, and one mark it signed.
const CLAIM = 'UPDATE login_handoffs SET device = $2, claimed_at = $3 WHERE id = $1 AND device IS NULL AND claim_until > $3';
const MARK_SIGNED = 'UPDATE login_handoffs SET signed_at = $3 WHERE id = $1 AND device = $2 AND signed_at IS NULL';
// One statement for every desktop login, with or without a handoff. The SET reads the row as it is once its lock is
// held (a phone's signature committed while this waited included); `device` becomes DESKTOP only when this marks it,
// never a device's hash (64 hex digits), so RETURNING tells who signed. No row: no handoff, nothing to refuse.
const DESKTOP = 'desktop';
const MARK_SIGNED_HERE = `UPDATE login_handoffs SET signed_at = coalesce(signed_at, $2),
    device = CASE WHEN signed_at IS NULL THEN '${DESKTOP}' ELSE device END
  WHERE interaction_uid = $1 RETURNING device = '${DESKTOP}' AS here`;

const fromRow = (row: Row): Handoff => ({
  id: row.id,
  interactionUid: row.interaction_uid,
  code: row.code,
  createdAt: row.created_at,
  claimUntil: row.claim_until,
  expiresAt: row.expires_at,
  device: row.device ?? undefined,
  signedAt: row.signed_at ?? undefined,
});

export function createHandoffStore(sql: Sql): HandoffStore {
  const first = async (text: string, value: string, name: string) => {
    const [row] = (await sql.query<Row>(text, [value], name)).rows;
    return row && fromRow(row);
  };
  return {
    async create(h) {
      await sql.query(CREATE, [h.id, h.interactionUid, h.code, h.createdAt, h.claimUntil, h.expiresAt], 'handoff_create');
    },
    find: (id) => first(FIND, id, 'handoff_find'),
    findByInteraction: (uid) => first(FIND_BY_INTERACTION, uid, 'handoff_find_by_interaction'),
    async claim(id, device, now) {
      return (await sql.query(CLAIM, [id, device, now], 'handoff_claim')).rowCount === 1;
    },
    async markSigned(id, device, now) {
      return (await sql.query(MARK_SIGNED, [id, device, now], 'handoff_mark_signed')).rowCount === 1;
    },
    async markSignedHere(uid, now) {
      const [row] = (await sql.query<{ here: boolean }>(MARK_SIGNED_HERE, [uid, now], 'handoff_mark_signed_here')).rows;
      return row?.here ?? true;
    },
  };
}
