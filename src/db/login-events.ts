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
    handoff: e.handoff ?? null,
  };
}

type Row = ReturnType<typeof loginEventRow> & { chain_id: string | number | null };

// Absent columns stay absent, as the event was recorded.
const fromRow = (r: Row): LoginEvent => {
  const e: LoginEvent = { at: new Date(r.occurred_at), outcome: r.outcome };
  if (r.reason !== null) e.reason = r.reason;
  if (r.interaction_uid !== null) e.interactionUid = r.interaction_uid;
  if (r.client_id !== null) e.clientId = r.client_id;
  if (r.address !== null) e.address = r.address;
  // bigint: pg answers a string.
  if (r.chain_id !== null) e.chainId = Number(r.chain_id);
  if (r.sub !== null) e.sub = r.sub;
  if (r.ip !== null) e.ip = r.ip;
  if (r.user_agent !== null) e.userAgent = r.user_agent;
  if (r.handoff) e.handoff = true;
  return e;
};

export function createLoginEventStore(db: Db): LoginEventStore {
  return {
    async record(e) {
      await db('login_events').insert(loginEventRow(e));
    },
    async list(f) {
      const q = db('login_events');
      if (f.outcome !== undefined) q.where('outcome', f.outcome);
      if (f.reason !== undefined) q.where('reason', f.reason);
      if (f.address !== undefined) q.whereRaw('lower(address) = ?', [f.address.toLowerCase()]);
      if (f.clientId !== undefined) q.where('client_id', f.clientId);
      if (f.since !== undefined) q.where('occurred_at', '>=', f.since);
      if (f.until !== undefined) q.where('occurred_at', '<', f.until);
      const rows = (await q
        .orderBy([
          { column: 'occurred_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(f.limit)) as Row[];
      return rows.map(fromRow);
    },
  };
}
