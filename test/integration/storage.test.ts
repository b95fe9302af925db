// Our own tables: the sweep, SIWE nonces, accounts, clients, signing keys and provider secrets.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ClientMetadata } from 'oidc-provider';
import { createAccountStore } from '../../src/db/accounts.ts';
import { systemClock } from '../../src/clock.ts';
import { createClientStore } from '../../src/db/clients.ts';
import { createDb, migrate } from '../../src/db/knex.ts';
import { createLoginEventStore } from '../../src/db/login-events.ts';
import { createHandoffStore } from '../../src/db/handoffs.ts';
import { createNonceStore } from '../../src/db/nonces.ts';
import { createPayloadStore } from '../../src/db/payloads.ts';
import { createSql } from '../../src/db/sql.ts';
import { createClientAdapter, createPayloadAdapter } from '../../src/oidc/adapter.ts';
import { hashTokenId } from '../../src/oidc/token-ids.ts';
import type { IssuedNonce } from '../../src/siwe/ports.ts';
import { getOrCreateSecret } from '../../src/db/provider-secrets.ts';
import { createSecretBox } from '../../src/db/secret-box.ts';
import { createSigningKeys } from '../../src/db/signing-keys.ts';
import { CHANGE_RETENTION_SECONDS, SWEEP_GRACE_SECONDS, sweepExpired } from '../../src/db/sweep.ts';
import { SIGNING_ALGS } from '../../src/oidc/keys.ts';
import { activateKeys, readKeySet, retireKey, rotateKeys } from '../../src/oidc/signing-keys.ts';
import { describeEachDatabase } from '../helpers/db.ts';

type Backend = Parameters<Parameters<typeof describeEachDatabase>[1]>[0];

const MINUTE = 60_000;
const DAY = 86_400_000;

async function setup(backend: Backend) {
  const database = await backend.create();
  const db = createDb(database.database);
  await migrate(db);
  const box = createSecretBox(randomBytes(32));
  const sql = createSql(db);
  const nonces = createNonceStore(sql);
  const loginEvents = createLoginEventStore(db);
  const clients = createClientStore(db, box, systemClock);

  const newId = (prefix = 'id') => `${prefix}-${randomUUID()}`;
  /** An alphanumeric EIP-4361 nonce. */
  const newNonce = () => randomBytes(12).toString('hex');

  /** Stores a nonce as the SIWE service would, with fields that can be told apart. */
  const issueNonce = async (overrides: Partial<IssuedNonce> = {}): Promise<IssuedNonce> => {
    const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const issued: IssuedNonce = {
      nonce: newNonce(),
      interactionUid: newId('uid'),
      clientId: newId('client'),
      address: '0x0000000000000000000000000000000000000001',
      chainId: 10,
      message: `example.com wants you to sign in with your Ethereum account:\n${newId('msg')}`,
      issuedAt,
      expiresAt: new Date(issuedAt.getTime() + 5 * MINUTE),
      ...overrides,
    };
    assert.equal(await nonces.insert(issued, 1000), true, 'the nonce was stored');
    return issued;
  };

  /** Stores an AccessToken that expires `expiresInMs` after `now` (negative: already expired); returns its id as stored (hashed). */
  const savePayload = async (now: Date, expiresInMs: number | undefined) => {
    const id = newId();
    const ttl = expiresInMs === undefined ? undefined : (now.getTime() - Date.now() + expiresInMs) / 1000;
    await createPayloadAdapter(createPayloadStore(sql), 'AccessToken', systemClock).upsert(id, { jti: id }, ttl);
    return hashTokenId(id);
  };

  const ids = async (table: string, key: string) => ((await db(table).pluck(key)) as (string | number)[]).map(String).sort();
  const countRows = async (table: string) => Number(((await db(table).count({ n: '*' }).first()) as { n: string | number }).n);
  const empty = async (...tables: string[]) => {
    for (const table of tables) await db(table).delete();
  };

  return {
    db,
    box,
    nonces,
    loginEvents,
    clients,
    accounts: createAccountStore(db, sql),
    signingKeys: createSigningKeys(db, box, systemClock),
    newId,
    newNonce,
    issueNonce,
    handoffs: createHandoffStore(sql),
    savePayload,
    ids,
    countRows,
    empty,
    async close() {
      await db.destroy();
      await database.drop();
    },
  };
}

describeEachDatabase('storage', (backend) => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup(backend);
  });
  after(async () => {
    await ctx?.close();
  });

  describe('sweepExpired', () => {
    beforeEach(() => ctx.empty('oidc_payloads', 'siwe_nonces', 'login_events'));

    it('deletes payloads expired beyond the grace and keeps those inside it, unexpired ones and ones with no expiry', async () => {
      const now = new Date();
      const beyondGrace = await ctx.savePayload(now, -(SWEEP_GRACE_SECONDS * 1000 + 5 * MINUTE));
      const insideGrace = await ctx.savePayload(now, -(SWEEP_GRACE_SECONDS * 1000 - 5 * MINUTE));
      const unexpired = await ctx.savePayload(now, 5 * MINUTE);
      const noExpiry = await ctx.savePayload(now, undefined);

      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.deepEqual(counts, { oidc_payloads: 1, siwe_nonces: 0, login_handoffs: 0, login_events: 0, rate_limits: 0, config_changes: 0 });
      assert.deepEqual(await ctx.ids('oidc_payloads', 'id'), [insideGrace, unexpired, noExpiry].sort());
      assert.ok(!(await ctx.ids('oidc_payloads', 'id')).includes(beyondGrace));
    });

    it('uses the grace it is given instead of the default', async () => {
      const now = new Date();
      await ctx.savePayload(now, -MINUTE);
      const unexpired = await ctx.savePayload(now, MINUTE);
      const counts = await sweepExpired(ctx.db, { now, graceSeconds: 0, loginEventRetentionDays: 90 });
      assert.equal(counts.oidc_payloads, 1);
      assert.deepEqual(await ctx.ids('oidc_payloads', 'id'), [unexpired]);
    });

    it('deletes nonces expired beyond the grace and keeps the others', async () => {
      const now = new Date();
      const at = (ms: number) => new Date(now.getTime() + ms);
      await ctx.issueNonce({ expiresAt: at(-(SWEEP_GRACE_SECONDS * 1000 + MINUTE)) });
      const insideGrace = await ctx.issueNonce({ expiresAt: at(-(SWEEP_GRACE_SECONDS * 1000 - MINUTE)) });
      const unexpired = await ctx.issueNonce({ expiresAt: at(5 * MINUTE) });

      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.deepEqual(counts, { oidc_payloads: 0, siwe_nonces: 1, login_handoffs: 0, login_events: 0, rate_limits: 0, config_changes: 0 });
      assert.deepEqual(await ctx.ids('siwe_nonces', 'nonce'), [insideGrace.nonce, unexpired.nonce].sort());
    });

    it('deletes handoff links once their interaction ended beyond the grace, whatever their claim window said', async () => {
      const now = new Date();
      const at = (ms: number) => new Date(now.getTime() + ms);
      const handoff = (expiresAt: Date) => ({ id: ctx.newId('h'), interactionUid: ctx.newId('uid'), code: '123 456', createdAt: at(-DAY), claimUntil: at(-DAY), expiresAt });
      const gone = handoff(at(-(SWEEP_GRACE_SECONDS * 1000 + MINUTE)));
      const kept = handoff(at(5 * MINUTE));
      for (const h of [gone, kept]) await ctx.handoffs.create(h);
      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.equal(counts.login_handoffs, 1);
      assert.deepEqual(await ctx.ids('login_handoffs', 'id'), [kept.id]);
    });

    it('keeps one handoff per interaction: a new link replaces the old one whole, claim and all', async () => {
      const now = new Date();
      const interactionUid = ctx.newId('uid');
      const first = { id: ctx.newId('h'), interactionUid, code: '111 111', createdAt: now, claimUntil: new Date(now.getTime() + MINUTE), expiresAt: new Date(now.getTime() + DAY) };
      await ctx.handoffs.create(first);
      assert.equal(await ctx.handoffs.claim(first.id, 'device-a', now), true);
      const second = { ...first, id: ctx.newId('h'), code: '222 222' };
      await ctx.handoffs.create(second);
      assert.equal(await ctx.handoffs.find(first.id), undefined);
      assert.deepEqual(await ctx.handoffs.findByInteraction(interactionUid), { ...second, device: undefined, signedAt: undefined });
      // Unclaimed again: the old link's device has no hold on the new one.
      assert.equal(await ctx.handoffs.markSigned(second.id, 'device-a', now), false);
      // Past its claim window nobody claims it.
      assert.equal(await ctx.handoffs.claim(second.id, 'device-b', new Date(now.getTime() + 2 * MINUTE)), false);
    });

    it('lets exactly one of many concurrent claims and one of many concurrent signatures through', async () => {
      const now = new Date();
      const h = { id: ctx.newId('h'), interactionUid: ctx.newId('uid'), code: '333 333', createdAt: now, claimUntil: new Date(now.getTime() + MINUTE), expiresAt: new Date(now.getTime() + DAY) };
      await ctx.handoffs.create(h);
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => ctx.handoffs.claim(h.id, `device-${i}`, now)));
      assert.equal(claims.filter(Boolean).length, 1);
      const device = `device-${claims.indexOf(true)}`;
      const marks = await Promise.all(Array.from({ length: 10 }, () => ctx.handoffs.markSigned(h.id, device, now)));
      assert.equal(marks.filter(Boolean).length, 1);
      assert.ok((await ctx.handoffs.find(h.id))?.signedAt);
    });

    it('deletes login events older than the retention and keeps the recent ones', async () => {
      const now = new Date();
      await ctx.loginEvents.record({ at: new Date(now.getTime() - 91 * DAY), outcome: 'refused', reason: 'nonce_used' });
      await ctx.loginEvents.record({ at: new Date(now.getTime() - 89 * DAY), outcome: 'success', sub: 'kept' });

      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.deepEqual(counts, { oidc_payloads: 0, siwe_nonces: 0, login_handoffs: 0, login_events: 1, rate_limits: 0, config_changes: 0 });
      assert.deepEqual(await ctx.ids('login_events', 'sub'), ['kept']);
    });

    it('deletes change announcements older than their retention and keeps the recent ones', async () => {
      const now = new Date();
      await ctx.db('config_changes').insert([
        { kind: 'clients', key: 'old', at: new Date(now.getTime() - (CHANGE_RETENTION_SECONDS + 60) * 1000) },
        { kind: 'clients', key: 'recent', at: new Date(now.getTime() - (CHANGE_RETENTION_SECONDS - 60) * 1000) },
      ]);
      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.deepEqual(counts, { oidc_payloads: 0, siwe_nonces: 0, login_handoffs: 0, login_events: 0, rate_limits: 0, config_changes: 1 });
      assert.deepEqual(await ctx.ids('config_changes', 'key'), ['recent']);
    });

    it('deletes rate-limit counters whose window or lockout ended beyond the grace, and keeps the others', async () => {
      await ctx.empty('rate_limits');
      const now = new Date();
      const at = (ms: number) => now.getTime() + ms;
      await ctx.db('rate_limits').insert([
        { key: 'auth:old', points: 7, expire: at(-(SWEEP_GRACE_SECONDS * 1000 + MINUTE)) },
        { key: 'auth:recent', points: 7, expire: at(-MINUTE) },
        { key: 'client-lockout:locked', points: 51, expire: at(10 * MINUTE) },
      ]);
      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90 });
      assert.equal(counts.rate_limits, 1);
      assert.deepEqual(await ctx.ids('rate_limits', 'key'), ['auth:recent', 'client-lockout:locked']);
    });

    it('keeps deleting batch after batch until nothing expired is left', async () => {
      const now = new Date();
      for (let i = 0; i < 5; i++) {
        await ctx.savePayload(now, -DAY);
        await ctx.issueNonce({ expiresAt: new Date(now.getTime() - DAY) });
        await ctx.loginEvents.record({ at: new Date(now.getTime() - 100 * DAY), outcome: 'success' });
      }
      const counts = await sweepExpired(ctx.db, { now, loginEventRetentionDays: 90, batchSize: 2 });
      assert.deepEqual(counts, { oidc_payloads: 5, siwe_nonces: 5, login_handoffs: 0, login_events: 5, rate_limits: 0, config_changes: 0 });
      for (const table of ['oidc_payloads', 'siwe_nonces', 'login_events']) assert.equal(await ctx.countRows(table), 0, table);
    });
  });

  describe('createNonceStore', () => {
    it('consumes an issued nonce and returns exactly what was issued', async () => {
      const issued = await ctx.issueNonce();
      const result = await ctx.nonces.consume(issued.nonce, issued.interactionUid, new Date());
      assert.deepEqual(result, { status: 'consumed', issued });
    });

    it('answers used for a nonce that was consumed before', async () => {
      const issued = await ctx.issueNonce();
      await ctx.nonces.consume(issued.nonce, issued.interactionUid, new Date());
      assert.deepEqual(await ctx.nonces.consume(issued.nonce, issued.interactionUid, new Date()), { status: 'used' });
    });

    it('answers unknown for a nonce that was never issued', async () => {
      assert.deepEqual(await ctx.nonces.consume(randomBytes(12).toString('hex'), ctx.newId('uid'), new Date()), { status: 'unknown' });
    });

    it('answers unknown for a nonce presented with another interaction, which leaves it consumable by its own', async () => {
      const issued = await ctx.issueNonce();
      assert.deepEqual(await ctx.nonces.consume(issued.nonce, ctx.newId('uid'), new Date()), { status: 'unknown' });
      assert.equal((await ctx.nonces.consume(issued.nonce, issued.interactionUid, new Date())).status, 'consumed');
    });

    it('stores nonces for an interaction up to the limit, then refuses more, while other interactions stay free', async () => {
      const first = await ctx.issueNonce();
      const sameInteraction = { interactionUid: first.interactionUid };
      assert.equal(await ctx.nonces.insert({ ...first, ...sameInteraction, nonce: ctx.newNonce() }, 3), true);
      assert.equal(await ctx.nonces.insert({ ...first, ...sameInteraction, nonce: ctx.newNonce() }, 3), true);
      const refused = { ...first, ...sameInteraction, nonce: ctx.newNonce() };
      assert.equal(await ctx.nonces.insert(refused, 3), false);
      assert.deepEqual(await ctx.nonces.consume(refused.nonce, refused.interactionUid, new Date()), { status: 'unknown' }, 'a refused nonce is not stored');
      assert.equal(await ctx.nonces.insert({ ...first, interactionUid: ctx.newId('uid'), nonce: ctx.newNonce() }, 3), true);
    });

    it('holds the per-interaction limit when 20 inserts for one interaction arrive at once', async () => {
      // Several bursts: the first ones also open the pool's connections.
      for (let burst = 0; burst < 5; burst++) {
        const template = await ctx.issueNonce();
        const stored = await Promise.all(Array.from({ length: 20 }, () => ctx.nonces.insert({ ...template, nonce: ctx.newNonce() }, 3)));
        const rows = await ctx.db('siwe_nonces').where({ interaction_uid: template.interactionUid }).count({ n: '*' }).first();
        assert.equal(Number(rows!.n), 3, `burst ${burst}: rows stored for one interaction with limit 3`);
        assert.equal(stored.filter(Boolean).length, 2, `burst ${burst}: inserts that answered true`);
      }
    });

    it('lets exactly one of 20 concurrent consumes of one nonce win; the others see it used', async () => {
      const issued = await ctx.issueNonce();
      const results = await Promise.all(Array.from({ length: 20 }, () => ctx.nonces.consume(issued.nonce, issued.interactionUid, new Date())));
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 'consumed').length, 1, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 'used').length, 19, statuses.join(','));
    });
  });

  describe('createAccountStore recordLogin', () => {
    const address = '0x00000000000000000000000000000000000000Ab';

    it("creates the account on a wallet's first login with a count of one", async () => {
      const sub = ctx.newId('sub');
      const at = new Date('2026-01-01T10:00:00.000Z');
      const account = (await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at }))!;
      assert.equal(account.sub, sub);
      assert.equal(account.address, address);
      assert.equal(account.walletType, 'eoa');
      assert.equal(account.loginCount, 1);
      assert.deepEqual([account.firstLoginAt, account.lastLoginAt], [at, at]);
      assert.deepEqual(await ctx.accounts.find(sub), account);
    });

    it('counts later logins, keeps the first login time and moves the last one', async () => {
      const sub = ctx.newId('sub');
      const first = new Date('2026-01-01T10:00:00.000Z');
      const second = new Date('2026-01-02T10:00:00.000Z');
      const third = new Date('2026-01-03T10:00:00.000Z');
      const created = (await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: first }))!;
      await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: second });
      const latest = (await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: third }))!;
      assert.equal(latest.id, created.id);
      assert.equal(latest.loginCount, 3);
      assert.deepEqual(latest.firstLoginAt, first);
      assert.deepEqual(latest.lastLoginAt, third);
      assert.deepEqual(await ctx.accounts.find(sub), latest);
    });

    it('counts every one of 10 concurrent logins of the same wallet', async () => {
      const sub = ctx.newId('sub');
      await Promise.all(Array.from({ length: 10 }, () => ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: new Date() })));
      assert.equal((await ctx.accounts.find(sub))?.loginCount, 10);
    });

    it('answers undefined for a sub that never logged in', async () => {
      assert.equal(await ctx.accounts.find(ctx.newId('sub')), undefined);
    });

    it('leaves a disabled account and writes no event: no count, no login time, until it is enabled', async () => {
      const sub = ctx.newId('sub');
      const first = new Date('2026-01-01T10:00:00.000Z');
      const later = new Date('2026-01-02T10:00:00.000Z');
      await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: first });
      const disabledAt = new Date('2026-01-01T12:00:00.000Z');
      assert.deepEqual(await ctx.accounts.setDisabled([sub], { at: disabledAt, reason: 'stolen key' }), [sub]);
      assert.deepEqual(await ctx.accounts.setDisabled([sub], { at: later, reason: 'again' }), [], 'already disabled: nothing changes');
      const event = { at: later, outcome: 'success' as const, sub, address, chainId: 1, clientId: ctx.newId('client') };
      assert.equal(await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: later }, event), undefined);
      const found = await ctx.accounts.find(sub);
      assert.deepEqual([found?.loginCount, found?.lastLoginAt, found?.disabledAt, found?.disabledReason], [1, first, disabledAt, 'stolen key']);
      assert.deepEqual(await ctx.loginEvents.list({ clientId: event.clientId, limit: 10 }), [], 'no success event for a refused login');

      assert.deepEqual(await ctx.accounts.setDisabled([sub], null), [sub]);
      assert.equal((await ctx.accounts.recordLogin({ sub, address, walletType: 'eoa', at: later }, event))?.loginCount, 2);
      assert.equal((await ctx.loginEvents.list({ clientId: event.clientId, limit: 10 })).length, 1);
      assert.equal((await ctx.accounts.find(sub))?.disabledAt, undefined);
    });
  });

  describe('createClientStore', () => {
    const metadata = (clientId: string, secret?: string): ClientMetadata => ({
      client_id: clientId,
      ...(secret ? { client_secret: secret } : {}),
      client_name: 'Test RP',
      redirect_uris: ['https://rp.example/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    });

    it('saves a client and finds it with its metadata and its secret in clear', async () => {
      const clientId = ctx.newId('client');
      const secret = randomBytes(32).toString('base64url');
      await ctx.clients.save(metadata(clientId, secret));
      const found = await ctx.clients.find(clientId);
      assert.ok(found);
      const { created_at, updated_at, ...rest } = found;
      assert.deepEqual(rest, metadata(clientId, secret));
      assert.ok(!Number.isNaN(Date.parse(created_at!)) && !Number.isNaN(Date.parse(updated_at!)));
    });

    it('stores the secret sealed: no column of the row holds it in clear', async () => {
      const clientId = ctx.newId('client');
      const secret = randomBytes(32).toString('base64url');
      await ctx.clients.save(metadata(clientId, secret));
      const row = (await ctx.db('oidc_clients').where({ client_id: clientId }).first()) as { secret_sealed: string | null };
      assert.ok(row.secret_sealed, 'a sealed secret is stored');
      assert.ok(!row.secret_sealed.includes(secret));
      assert.ok(!JSON.stringify(row).includes(secret), 'the metadata column does not carry the secret either');
      assert.equal(ctx.box.open(row.secret_sealed), secret);
    });

    it('finds a client without a secret with no client_secret at all', async () => {
      const clientId = ctx.newId('client');
      await ctx.clients.save({ ...metadata(clientId), token_endpoint_auth_method: 'none' });
      const found = await ctx.clients.find(clientId);
      assert.equal(found?.token_endpoint_auth_method, 'none');
      assert.ok(!('client_secret' in found!));
    });

    it('replaces metadata and secret on a second save and keeps created_at', async () => {
      const clientId = ctx.newId('client');
      await ctx.clients.save(metadata(clientId, 'first-secret-first-secret-first-secret'));
      const before = (await ctx.clients.find(clientId))!;
      await ctx.clients.save({ ...metadata(clientId, 'second-secret-second-secret-second'), client_name: 'Renamed RP' });
      const after = (await ctx.clients.find(clientId))!;
      assert.equal(after.client_name, 'Renamed RP');
      assert.equal(after.client_secret, 'second-secret-second-secret-second');
      assert.equal(after.created_at, before.created_at);
      assert.ok(after.updated_at! >= before.updated_at!);
    });

    it('lists the saved clients', async () => {
      const a = ctx.newId('client');
      const b = ctx.newId('client');
      await ctx.clients.save(metadata(a, 'secret-a-secret-a-secret-a-secret-a'));
      await ctx.clients.save(metadata(b));
      const listed = await ctx.clients.list();
      const byId = new Map(listed.map((c) => [c.client_id, c]));
      assert.equal(byId.get(a)?.client_secret, 'secret-a-secret-a-secret-a-secret-a');
      assert.equal(byId.get(b)?.client_name, 'Test RP');
      assert.equal(listed.length, await ctx.countRows('oidc_clients'));
    });

    it('removes a client: true the first time, then find answers undefined and a second remove false', async () => {
      const clientId = ctx.newId('client');
      await ctx.clients.save(metadata(clientId));
      assert.equal(await ctx.clients.remove(clientId), true);
      assert.equal(await ctx.clients.find(clientId), undefined);
      assert.equal(await ctx.clients.remove(clientId), false);
    });

    it("gives oidc-provider the client's metadata with client_secret, without our timestamps", async () => {
      const adapter = createClientAdapter(ctx.clients, 0);
      const clientId = ctx.newId('client');
      const secret = randomBytes(32).toString('base64url');
      await ctx.clients.save(metadata(clientId, secret));
      assert.deepEqual(await adapter.find(clientId), metadata(clientId, secret));
      assert.equal(await adapter.find(ctx.newId('client')), undefined);
    });

    it('keeps a found client for the cache TTL, and forgets it at once when it changes through the adapter', async () => {
      const adapter = createClientAdapter(ctx.clients, 60);
      const clientId = ctx.newId('client');
      await ctx.clients.save(metadata(clientId));
      await adapter.find(clientId);
      await ctx.clients.remove(clientId);
      assert.equal((await adapter.find(clientId))?.client_id, clientId, 'served from the cache');
      await adapter.destroy(clientId);
      assert.equal(await adapter.find(clientId), undefined);
      const uncached = createClientAdapter(ctx.clients, 0);
      await ctx.clients.save(metadata(clientId));
      await uncached.find(clientId);
      await ctx.clients.remove(clientId);
      assert.equal(await uncached.find(clientId), undefined, 'TTL 0 always reads the database');
    });
  });

  describe('createSigningKeys', () => {
    beforeEach(() => ctx.empty('signing_keys'));

    it('generates one key per algorithm on the first ensure and none on the second', async () => {
      await ctx.signingKeys.ensure();
      const first = await ctx.signingKeys.list();
      await ctx.signingKeys.ensure();
      const keys = await ctx.signingKeys.list();
      assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'RS256']);
      assert.deepEqual(
        keys.map((k) => k.kid),
        first.map((k) => k.kid),
      );
    });

    it('leaves exactly one key per algorithm when several instances call ensure at once', async () => {
      await Promise.all(Array.from({ length: 5 }, () => ctx.signingKeys.ensure()));
      assert.equal((await ctx.signingKeys.list()).length, SIGNING_ALGS.length);
    });

    it('publishes one generation when two keys rotate run at once: the other is refused', async () => {
      await ctx.signingKeys.ensure();
      const now = new Date();
      const results = await Promise.allSettled([rotateKeys(ctx.signingKeys, now, 3600), rotateKeys(ctx.signingKeys, now, 3600)]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
      assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /already pending/);
      const pending = (await readKeySet(ctx.signingKeys, now)).keys.filter((k) => k.state === 'pending');
      assert.equal(pending.length, SIGNING_ALGS.length, 'one pending key per algorithm');
    });

    it('never retires a key that a keys activate run at the same time makes the signing one (a rollback)', async () => {
      await ctx.signingKeys.ensure();
      const old = (await readKeySet(ctx.signingKeys, new Date())).keys.find((k) => k.alg === 'RS256')!;
      await rotateKeys(ctx.signingKeys, new Date(), 3600);
      await activateKeys(ctx.signingKeys, new Date());
      const now = new Date();
      const results = await Promise.allSettled([activateKeys(ctx.signingKeys, now, old.kid), retireKey(ctx.signingKeys, now, old.kid)]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], 'one of them is refused');
      const state = (await readKeySet(ctx.signingKeys, now)).keys.find((k) => k.kid === old.kid)!.state;
      assert.equal(state, results[0].status === 'fulfilled' ? 'active' : 'retired');
      // A key whose activation time came from the database (microseconds, as the migration wrote them) still retires.
      const migrated = (await readKeySet(ctx.signingKeys, now)).keys.find((k) => k.alg === 'ES256' && k.state === 'previous')!;
      await ctx.db.raw("UPDATE signing_keys SET activates_at = activates_at - interval '1 microsecond' * 250 WHERE kid = ?", [migrated.kid]);
      await retireKey(ctx.signingKeys, new Date(), migrated.kid);
    });

    it('stages a rotation: pending until its activation time, then active, the old key previous; retire withdraws it', async () => {
      await ctx.signingKeys.ensure();
      const t0 = new Date();
      const old = (await readKeySet(ctx.signingKeys, t0)).keys.find((k) => k.alg === 'RS256')!;
      const added = await rotateKeys(ctx.signingKeys, t0, 3600);
      const next = added.find((k) => k.alg === 'RS256')!;
      assert.deepEqual(
        added.map((k) => k.state),
        ['pending', 'pending', 'pending'],
      );
      await assert.rejects(rotateKeys(ctx.signingKeys, t0, 3600), /already pending/);
      const stateAt = async (at: Date, kid: string) => (await readKeySet(ctx.signingKeys, at)).keys.find((k) => k.kid === kid)!.state;
      const later = new Date(t0.getTime() + 3600_000);
      assert.equal(await stateAt(later, next.kid), 'active');
      assert.equal(await stateAt(later, old.kid), 'previous');
      await assert.rejects(retireKey(ctx.signingKeys, later, next.kid), /signs RS256 tokens now/);
      await retireKey(ctx.signingKeys, later, old.kid);
      assert.equal(await stateAt(later, old.kid), 'retired');
      assert.ok(!(await readKeySet(ctx.signingKeys, later)).jwks.some((k) => k.kid === old.kid), 'a retired key is not published');
    });

    it('returns private JWKs but stores them sealed: the raw column holds no private part', async () => {
      await ctx.signingKeys.ensure();
      const keys = await ctx.signingKeys.list();
      const rsa = keys.find((k) => k.alg === 'RS256')!.jwk;
      assert.equal(rsa.kty, 'RSA');
      assert.equal(rsa.use, 'sig');
      assert.ok(typeof rsa.n === 'string' && typeof rsa.d === 'string', 'the private parts come back');
      for (const { kid, alg, jwk } of keys) {
        const row = (await ctx.db('signing_keys').where({ kid }).first()) as { private_jwk_sealed: string; alg: string };
        assert.equal(row.alg, alg);
        assert.ok(typeof jwk.d === 'string' && !row.private_jwk_sealed.includes(jwk.d), `the private part of the ${alg} key is not stored in clear`);
      }
    });
  });

  describe('getOrCreateSecret', () => {
    it('returns the stored value on later calls instead of generating a new one', async () => {
      const name = ctx.newId('secret');
      let generated = 0;
      const generate = () => [`key-${++generated}`];
      const first = await getOrCreateSecret(ctx.db, name, generate);
      const second = await getOrCreateSecret(ctx.db, name, generate);
      assert.deepEqual(first, ['key-1']);
      assert.deepEqual(second, ['key-1']);
    });

    it('agrees on one value when many first calls race', async () => {
      const name = ctx.newId('secret');
      let generated = 0;
      const values = await Promise.all(Array.from({ length: 10 }, () => getOrCreateSecret(ctx.db, name, () => `value-${++generated}`)));
      assert.equal(new Set(values).size, 1, values.join(','));
      assert.match(values[0]!, /^value-\d+$/);
    });
  });
});
