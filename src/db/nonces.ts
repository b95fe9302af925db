// SIWE nonces: each stored with the exact message issued, bound to one interaction, consumed once.
import type { Sql } from './sql.ts';
import type { IssuedNonce, NonceStore } from '../siwe/ports.ts';

type Row = {
  nonce: string;
  interaction_uid: string;
  client_id: string;
  address: string;
  chain_id: number | string;
  message: string;
  issued_at: Date;
  expires_at: Date;
};

const INSERT = `INSERT INTO siwe_nonces (nonce, interaction_uid, slot, client_id, address, chain_id, message, issued_at, expires_at)
  SELECT $1, $2, s.next, $3, $4, $5, $6, $7, $8
  FROM (SELECT coalesce(max(slot) + 1, 0) AS next FROM siwe_nonces WHERE interaction_uid = $2) s
  WHERE s.next < $9
  ON CONFLICT (interaction_uid, slot) DO NOTHING`;
const LAST_SLOT = 'SELECT max(slot) AS last FROM siwe_nonces WHERE interaction_uid = $1';
// One conditional UPDATE is the whole race: Postgres row locking lets one caller flip consumed_at.
const CONSUME = `UPDATE siwe_nonces SET consumed_at = $3
  WHERE nonce = $1 AND interaction_uid = $2 AND consumed_at IS NULL
  RETURNING nonce, interaction_uid, client_id, address, chain_id, message, issued_at, expires_at`;
const SEEN = 'SELECT 1 FROM siwe_nonces WHERE nonce = $1 AND interaction_uid = $2';
const PENDING = `SELECT nonce, interaction_uid, client_id, address, chain_id, message, issued_at, expires_at
  FROM siwe_nonces WHERE nonce = $1 AND interaction_uid = $2 AND consumed_at IS NULL`;

const fromRow = (row: Row): IssuedNonce => ({
  nonce: row.nonce,
  interactionUid: row.interaction_uid,
  clientId: row.client_id,
  address: row.address,
  // pg returns bigint as a string; chain ids are bounded to safe integers by config.
  chainId: Number(row.chain_id),
  message: row.message,
  issuedAt: row.issued_at,
  expiresAt: row.expires_at,
});

export function createNonceStore(sql: Sql): NonceStore {
  return {
    async insert(n, limit) {
      // Each challenge takes the next slot of its interaction; the unique (interaction_uid, slot)
      // index makes the cap exact even when requests race: a loser retries with the next slot.
      for (;;) {
        const inserted = await sql.query(
          INSERT,
          [n.nonce, n.interactionUid, n.clientId, n.address, n.chainId, n.message, n.issuedAt, n.expiresAt, limit],
          'nonce_insert',
        );
        if (inserted.rowCount === 1) return true;
        const [row] = (await sql.query<{ last: number | null }>(LAST_SLOT, [n.interactionUid], 'nonce_last_slot')).rows;
        if (row?.last !== null && row?.last !== undefined && Number(row.last) + 1 >= limit) return false;
      }
    },
    async pending(nonce, interactionUid) {
      const [row] = (await sql.query<Row>(PENDING, [nonce, interactionUid], 'nonce_pending')).rows;
      return row && fromRow(row);
    },
    async consume(nonce, interactionUid, now) {
      const [row] = (await sql.query<Row>(CONSUME, [nonce, interactionUid, now], 'nonce_consume')).rows;
      if (row) return { status: 'consumed', issued: fromRow(row) };
      const seen = await sql.query(SEEN, [nonce, interactionUid], 'nonce_seen');
      return { status: seen.rows.length ? 'used' : 'unknown' };
    },
  };
}
