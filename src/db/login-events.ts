// Login events: every accepted and every refused login, with its reason code, for audit.
import type { Db } from './knex.ts';

export interface LoginEvent {
  at: Date;
  outcome: 'success' | 'refused';
  reason?: string | undefined;
  interactionUid?: string | undefined;
  clientId?: string | undefined;
  address?: string | undefined;
  chainId?: number | undefined;
  sub?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface LoginEventStore {
  record(event: LoginEvent): Promise<void>;
}

export function loginEventRow(e: LoginEvent) {
  return {
    occurred_at: e.at,
    outcome: e.outcome,
    reason: e.reason ?? null,
    interaction_uid: e.interactionUid ?? null,
    client_id: e.clientId ?? null,
    address: e.address ?? null,
    chain_id: e.chainId ?? null,
    sub: e.sub ?? null,
    ip: e.ip ?? null,
    // Bounded: a header is attacker-controlled.
    user_agent: e.userAgent?.slice(0, 512) ?? null,
  };
}

export function createLoginEventStore(db: Db): LoginEventStore {
  return {
    async record(e) {
      await db('login_events').insert(loginEventRow(e));
    },
  };
}
