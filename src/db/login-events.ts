// Login events: every accepted and every refused login, with its reason code, for audit.
import type { Db } from './knex.ts';
import type { LoginEventStore } from '../http/ports.ts';
import type { LoginEvent } from '../observer.ts';

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
