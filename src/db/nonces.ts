// SIWE nonces: each stored with the exact message issued, bound to one interaction, consumed once.
import type { Db } from './knex.ts';

export interface IssuedNonce {
  nonce: string;
  interactionUid: string;
  clientId: string;
  address: string;
  chainId: number;
  message: string;
  issuedAt: Date;
  expiresAt: Date;
}

export type ConsumeResult = { status: 'consumed'; issued: IssuedNonce } | { status: 'used' } | { status: 'unknown' };

export interface NonceStore {
  /** Stores the nonce unless its interaction already has `limit` challenges; returns whether it was stored. */
  insert(issued: IssuedNonce, limit: number): Promise<boolean>;
  /** Atomically marks the nonce used: of any number of concurrent calls, exactly one gets `consumed`. */
  consume(nonce: string, interactionUid: string, now: Date): Promise<ConsumeResult>;
}

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

export function createNonceStore(db: Db): NonceStore {
  return {
    async insert(n, limit) {
      // One statement: the cap and the insert travel together (a login needs one challenge; a few retries are normal).
      const result = await db.raw(
        `INSERT INTO siwe_nonces (nonce, interaction_uid, client_id, address, chain_id, message, issued_at, expires_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ?
         WHERE (SELECT count(*) FROM siwe_nonces WHERE interaction_uid = ?) < ?`,
        [n.nonce, n.interactionUid, n.clientId, n.address, n.chainId, n.message, n.issuedAt, n.expiresAt, n.interactionUid, limit],
      );
      return (result.rowCount ?? result.affectedRows) === 1;
    },
    async consume(nonce, interactionUid, now) {
      // One conditional UPDATE is the whole race: Postgres row locking lets one caller flip consumed_at.
      const [row] = (await db('siwe_nonces')
        .where({ nonce, interaction_uid: interactionUid })
        .whereNull('consumed_at')
        .update({ consumed_at: now })
        .returning('*')) as Row[];
      if (row) {
        return {
          status: 'consumed',
          issued: {
            nonce: row.nonce,
            interactionUid: row.interaction_uid,
            clientId: row.client_id,
            address: row.address,
            // pg returns bigint as a string; chain ids are bounded to safe integers by config.
            chainId: Number(row.chain_id),
            message: row.message,
            issuedAt: row.issued_at,
            expiresAt: row.expires_at,
          },
        };
      }
      const seen = await db('siwe_nonces').where({ nonce, interaction_uid: interactionUid }).first('nonce');
      return { status: seen ? 'used' : 'unknown' };
    },
  };
}
