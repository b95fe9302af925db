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
  insert(issued: IssuedNonce): Promise<void>;
  /** Atomically marks the nonce used: of any number of concurrent calls, exactly one gets `consumed`. */
  consume(nonce: string, interactionUid: string, now: Date): Promise<ConsumeResult>;
}

type Row = {
  nonce: string;
  interaction_uid: string;
  client_id: string;
  address: string;
  chain_id: number;
  message: string;
  issued_at: Date;
  expires_at: Date;
};

export function createNonceStore(db: Db): NonceStore {
  return {
    async insert(n) {
      await db('siwe_nonces').insert({
        nonce: n.nonce,
        interaction_uid: n.interactionUid,
        client_id: n.clientId,
        address: n.address,
        chain_id: n.chainId,
        message: n.message,
        issued_at: n.issuedAt,
        expires_at: n.expiresAt,
      });
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
            chainId: row.chain_id,
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
