// The oidc-provider adapter over Postgres/PGlite meets the contract of the library's memory adapter.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { createDb, migrate } from '../../src/db/knex.ts';
import { createPayloadStore } from '../../src/db/payloads.ts';
import { createSql } from '../../src/db/sql.ts';
import { createLogger } from '../../src/logger.ts';
import { createPayloadAdapter } from '../../src/oidc/adapter.ts';
import { registerClient } from '../../src/oidc/clients.ts';
import { HASHED_MODELS, hashTokenId } from '../../src/oidc/token-ids.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';

type Backend = Parameters<Parameters<typeof describeEachDatabase>[1]>[0];

/** A record found by a secondary key carries a handle as `jti`, not the id (which is stored only hashed). */
const withoutJti = (payload: AdapterPayload | undefined | void) => {
  const { jti: _jti, ...rest } = payload ?? {};
  return rest;
};

async function setup(backend: Backend) {
  const database = await backend.create();
  const db = createDb(database.database);
  await migrate(db);
  const store = createPayloadStore(createSql(db));
  const cleanups: (() => Promise<void>)[] = [];
  let server: Promise<AppContext> | undefined;

  /** A fresh id per call: the suite shares one database. */
  const newId = (prefix = 'id') => `${prefix}-${randomUUID()}`;
  const nowSeconds = () => Date.now() / 1000;
  /** The stored row as the database holds it, bypassing the adapter (which stores bearer-secret ids hashed). */
  const rawRow = (model: string, id: string) =>
    db('oidc_payloads')
      .where({ model, id: HASHED_MODELS.has(model) ? hashTokenId(id) : id })
      .first() as Promise<{ payload: AdapterPayload; expires_at: Date | null; consumed_at: Date | null } | undefined>;

  /**
   * The whole application wiring (createContext) on its own database: a PGlite directory
   * admits one connection, so the provider cannot share the adapter tests' database.
   */
  const startProvider = () =>
    (server ??= (async () => {
      const own: TestDatabase = await backend.create();
      cleanups.push(() => own.drop());
      const config = loadConfig({ ...own.env, ISSUER: 'http://127.0.0.1:1', SWEEP_INTERVAL: '0' });
      const app = await createContext(config, { logger: createLogger('silent') });
      cleanups.unshift(() => app.close());
      return app;
    })());

  return {
    db,
    adapter: (model: string) => createPayloadAdapter(store, model, systemClock),
    newId,
    nowSeconds,
    rawRow,
    startProvider,
    async close() {
      for (const cleanup of cleanups) await cleanup();
      await db.destroy();
      await database.drop();
    },
  };
}

describeEachDatabase('the oidc-provider adapter', (backend) => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup(backend);
  });
  after(async () => {
    await ctx?.close();
  });

  describe('upsert and find', () => {
    it('finds a payload deep-equal to the one upserted', async () => {
      const tokens = ctx.adapter('AccessToken');
      const id = ctx.newId();
      const payload: AdapterPayload = { jti: id, kind: 'AccessToken', accountId: 'acc', grantId: 'g', scope: 'openid', iat: 1, exp: 2 };
      await tokens.upsert(id, payload, 60);
      assert.deepEqual(await tokens.find(id), payload);
    });

    it('replaces the whole payload when the same id is upserted again', async () => {
      const interactions = ctx.adapter('Interaction');
      const id = ctx.newId();
      await interactions.upsert(id, { jti: id, returnTo: 'https://a.example/first', params: { state: 'one' } }, 60);
      const second: AdapterPayload = { jti: id, result: { login: { accountId: 'acc' } } };
      await interactions.upsert(id, second, 60);
      assert.deepEqual(await interactions.find(id), second);
    });

    it('clears a previous consume when the same id is upserted again', async () => {
      const codes = ctx.adapter('AuthorizationCode');
      const id = ctx.newId();
      await codes.upsert(id, { jti: id }, 60);
      await codes.consume(id);
      assert.ok((await codes.find(id))?.consumed);
      await codes.upsert(id, { jti: id, scope: 'openid' }, 60);
      assert.deepEqual(await codes.find(id), { jti: id, scope: 'openid' });
    });

    it('answers undefined for an id that was never stored', async () => {
      assert.equal(await ctx.adapter('AccessToken').find(ctx.newId()), undefined);
    });

    it('keeps models apart: one id under two model names holds two payloads', async () => {
      const id = ctx.newId();
      const tokens = ctx.adapter('AccessToken');
      const codes = ctx.adapter('AuthorizationCode');
      await tokens.upsert(id, { jti: id, kind: 'AccessToken' }, 60);
      await codes.upsert(id, { jti: id, kind: 'AuthorizationCode' }, 60);
      assert.deepEqual(await tokens.find(id), { jti: id, kind: 'AccessToken' });
      assert.deepEqual(await codes.find(id), { jti: id, kind: 'AuthorizationCode' });

      await codes.consume(id);
      await codes.destroy(id);
      assert.equal(await codes.find(id), undefined);
      assert.deepEqual(await tokens.find(id), { jti: id, kind: 'AccessToken' }, 'consume and destroy of one model leave the other alone');
    });

    it('round-trips nested objects, arrays, unicode and numbers unchanged', async () => {
      const sessions = ctx.adapter('Session');
      const id = ctx.newId();
      const payload: AdapterPayload = {
        jti: id,
        uid: ctx.newId('uid'),
        accountId: '0xAbC0000000000000000000000000000000000001',
        amr: ['siwe', 'eip1271'],
        authorizations: { 'client-1': { sid: 's', grantId: 'g', persistsLogout: true } },
        state: { nested: { deeper: [1, [2, [3]], { four: null }], empty: {}, none: [] } },
        extra: {
          text: 'Grüße, 世界, مرحبا, 🦄 and a line\u2028separator, "quotes" and \\ backslash',
          'key with spaces.and.dots': true,
          maxSafe: Number.MAX_SAFE_INTEGER,
          negative: -42,
          fraction: 0.125,
          falsy: [false, 0, ''],
        },
      };
      await sessions.upsert(id, payload, 60);
      assert.deepEqual(await sessions.find(id), payload);
    });

    it('stores a payload holding a NUL character, which any authorization request can put into an Interaction (state=%00)', async () => {
      const interactions = ctx.adapter('Interaction');
      const id = ctx.newId();
      const payload: AdapterPayload = { jti: id, params: { state: 'a\u0000b' } };
      await interactions.upsert(id, payload, 60);
      assert.deepEqual(await interactions.find(id), payload);
    });
  });

  describe('expiry', () => {
    it('stores the expiry expiresIn seconds from now, for the sweep', async () => {
      const tokens = ctx.adapter('AccessToken');
      const id = ctx.newId();
      await tokens.upsert(id, { jti: id }, 3600);
      const expiresAt = (await ctx.rawRow('AccessToken', id))!.expires_at!;
      assert.ok(Math.abs(expiresAt.getTime() / 1000 - (ctx.nowSeconds() + 3600)) < 5, `expires_at ${expiresAt.toISOString()}`);
    });

    it('stores a payload upserted without expiresIn with no expiry', async () => {
      const grants = ctx.adapter('Grant');
      const id = ctx.newId();
      await grants.upsert(id, { jti: id, accountId: 'acc' }, undefined);
      assert.equal((await ctx.rawRow('Grant', id))!.expires_at, null);
      assert.deepEqual(await grants.find(id), { jti: id, accountId: 'acc' });
    });

    it('still returns expired records from every read, since the library checks exp itself (ignoreExpiration)', async () => {
      const sessions = ctx.adapter('Session');
      const devices = ctx.adapter('DeviceCode');
      const sessionId = ctx.newId();
      const deviceId = ctx.newId();
      const uid = ctx.newId('uid');
      const userCode = ctx.newId('code');
      // Saved with a lifetime that ended an hour ago.
      await sessions.upsert(sessionId, { jti: sessionId, uid, accountId: 'acc', exp: Math.floor(ctx.nowSeconds()) - 3600 }, -3600);
      await devices.upsert(deviceId, { jti: deviceId, userCode }, -3600);
      await devices.consume(deviceId);
      assert.ok((await ctx.rawRow('Session', sessionId))!.expires_at! < new Date(), 'the row is stored as expired');

      assert.equal((await sessions.find(sessionId))?.jti, sessionId);
      assert.equal((await sessions.findByUid(uid))?.uid, uid);
      const device = await devices.findByUserCode(userCode);
      assert.equal(device?.userCode, userCode);
      assert.equal(typeof device?.consumed, 'number', 'an expired consumed record still says it was consumed (reuse detection)');
    });
  });

  describe('secondary lookups', () => {
    it('finds a Session by its uid, and no longer by the uid it had before being re-saved', async () => {
      const sessions = ctx.adapter('Session');
      const id = ctx.newId();
      const oldUid = ctx.newId('uid');
      const newUid = ctx.newId('uid');
      await sessions.upsert(id, { jti: id, uid: oldUid, accountId: 'acc' }, 60);
      assert.deepEqual(withoutJti(await sessions.findByUid(oldUid)), { uid: oldUid, accountId: 'acc' });

      await sessions.upsert(id, { jti: id, uid: newUid, accountId: 'acc' }, 60);
      assert.equal(await sessions.findByUid(oldUid), undefined);
      assert.deepEqual(withoutJti(await sessions.findByUid(newUid)), { uid: newUid, accountId: 'acc' });
      assert.equal(await sessions.findByUid(ctx.newId('uid')), undefined);
    });

    it('finds a DeviceCode by its user code, and answers undefined for an unknown code', async () => {
      const devices = ctx.adapter('DeviceCode');
      const id = ctx.newId();
      const userCode = ctx.newId('code');
      await devices.upsert(id, { jti: id, userCode, grantId: 'g' }, 60);
      assert.deepEqual(withoutJti(await devices.findByUserCode(userCode)), { userCode, grantId: 'g' });
      assert.equal(await devices.findByUserCode(ctx.newId('code')), undefined);
    });

    it('gives a record found by uid or user code a jti that saves, consumes and destroys that same record, and finds nothing as a token', async () => {
      const devices = ctx.adapter('DeviceCode');
      const id = ctx.newId();
      const userCode = ctx.newId('code');
      await devices.upsert(id, { jti: id, userCode }, 60);
      const found = (await devices.findByUserCode(userCode))!;
      assert.notEqual(found.jti, id, 'the id itself is not stored, so it cannot be given back');
      assert.equal(await devices.find(found.jti!), undefined, 'the handle is no token');
      // As oidc-provider does when the user approves the device: save the record it found, then the device redeems it.
      await devices.upsert(found.jti!, { ...found, accountId: 'acc' }, 60);
      assert.deepEqual(await devices.find(id), { jti: id, userCode, accountId: 'acc' });
      await devices.consume(found.jti!);
      assert.equal(typeof (await devices.find(id))?.consumed, 'number');
      await devices.destroy(found.jti!);
      assert.equal(await devices.find(id), undefined);
    });

    it('stores bearer-secret ids as their SHA-256 and no jti; other models as given', async () => {
      const id = ctx.newId();
      for (const model of HASHED_MODELS) {
        // accountId: a session without one is not stored at all.
        await ctx.adapter(model).upsert(id, { jti: id, uid: ctx.newId('uid'), accountId: 'account' }, 60);
        const row = (await ctx
          .db('oidc_payloads')
          .where({ model })
          .andWhere('id', 'in', [id, hashTokenId(id)])
          .first()) as { id: string; payload: AdapterPayload };
        assert.equal(row.id, hashTokenId(id), model);
        assert.equal(row.payload.jti, undefined, model);
      }
      await ctx.adapter('Grant').upsert(id, { jti: id }, 60);
      assert.deepEqual((await ctx.rawRow('Grant', id))?.payload, { jti: id });
    });

    it('looks uids and user codes up within its own model only', async () => {
      const uid = ctx.newId('uid');
      const userCode = ctx.newId('code');
      const id = ctx.newId();
      await ctx.adapter('Session').upsert(id, { jti: id, uid, accountId: 'acc' }, 60);
      await ctx.adapter('DeviceCode').upsert(id, { jti: id, userCode }, 60);
      assert.equal(await ctx.adapter('Interaction').findByUid(uid), undefined);
      assert.equal(await ctx.adapter('BackchannelAuthenticationRequest').findByUserCode(userCode), undefined);
    });
  });

  describe('consume and destroy', () => {
    it('keeps a consumed record and reports when it was consumed, in epoch seconds', async () => {
      const codes = ctx.adapter('AuthorizationCode');
      const id = ctx.newId();
      await codes.upsert(id, { jti: id, grantId: 'g', scope: 'openid' }, 60);
      assert.equal((await codes.find(id))?.consumed, undefined, 'not consumed before consume()');

      await codes.consume(id);
      const found = await codes.find(id);
      assert.ok(found, 'the consumed record stays for reuse detection');
      assert.equal(typeof found.consumed, 'number');
      assert.ok(Number.isInteger(found.consumed), 'epoch seconds are whole');
      assert.ok(Math.abs(found.consumed - ctx.nowSeconds()) < 5, `consumed ${found.consumed} is not close to now`);
      assert.deepEqual({ ...found, consumed: undefined }, { jti: id, grantId: 'g', scope: 'openid', consumed: undefined });
    });

    it('consumes once among concurrent calls; each loser revokes the grant and rejects with invalid_grant', async () => {
      const codes = ctx.adapter('AuthorizationCode');
      const tokens = ctx.adapter('AccessToken');
      const grants = ctx.adapter('Grant');
      const grantId = ctx.newId('grant');
      const codeId = ctx.newId();
      const tokenId = ctx.newId();
      await grants.upsert(grantId, { jti: grantId }, 60);
      await codes.upsert(codeId, { jti: codeId, grantId }, 60);
      await tokens.upsert(tokenId, { jti: tokenId, grantId }, 60);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => codes.consume(codeId)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, results.map((r) => r.status).join(' '));
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { error?: string }).error, 'invalid_grant');
      assert.equal(await grants.find(grantId), undefined, 'the grant is gone');
      assert.equal(await tokens.find(tokenId), undefined, 'and what it issued');
    });

    it('stores no Session without an account (a logout or a request without a session would leave one each)', async () => {
      const sessions = ctx.adapter('Session');
      const id = ctx.newId();
      await sessions.upsert(id, { jti: id, uid: ctx.newId('uid'), state: { secret: 'xsrf' } }, 60);
      assert.equal(await sessions.find(id), undefined);
      assert.equal(await ctx.rawRow('Session', id), undefined);
    });

    it('destroys a record so find and findByUid answer undefined', async () => {
      const sessions = ctx.adapter('Session');
      const id = ctx.newId();
      const uid = ctx.newId('uid');
      await sessions.upsert(id, { jti: id, uid, accountId: 'acc' }, 60);
      await sessions.destroy(id);
      assert.equal(await sessions.find(id), undefined);
      assert.equal(await sessions.findByUid(uid), undefined);
    });
  });

  describe('revokeByGrantId', () => {
    it("removes this model's records of that grant, leaving other grants and other models untouched", async () => {
      const grant = ctx.newId('grant');
      const otherGrant = ctx.newId('grant');
      const tokens = ctx.adapter('AccessToken');
      const refreshTokens = ctx.adapter('RefreshToken');
      const [a1, a2, a3, r1] = [ctx.newId(), ctx.newId(), ctx.newId(), ctx.newId()];
      await tokens.upsert(a1, { jti: a1, grantId: grant }, 60);
      await tokens.upsert(a2, { jti: a2, grantId: grant }, 60);
      await tokens.upsert(a3, { jti: a3, grantId: otherGrant }, 60);
      await refreshTokens.upsert(r1, { jti: r1, grantId: grant }, 60);

      await tokens.revokeByGrantId(grant);
      assert.equal(await tokens.find(a1), undefined);
      assert.equal(await tokens.find(a2), undefined);
      assert.deepEqual(await tokens.find(a3), { jti: a3, grantId: otherGrant });
      // oidc-provider calls revokeByGrantId on every grantable model itself (lib/helpers/revoke.js).
      assert.deepEqual(await refreshTokens.find(r1), { jti: r1, grantId: grant });

      await refreshTokens.revokeByGrantId(grant);
      assert.equal(await refreshTokens.find(r1), undefined);
    });

    it('follows a record to the grant it was re-saved under', async () => {
      const tokens = ctx.adapter('AccessToken');
      const id = ctx.newId();
      const first = ctx.newId('grant');
      const second = ctx.newId('grant');
      await tokens.upsert(id, { jti: id, grantId: first }, 60);
      await tokens.upsert(id, { jti: id, grantId: second }, 60);

      await tokens.revokeByGrantId(first);
      assert.deepEqual(await tokens.find(id), { jti: id, grantId: second });
      await tokens.revokeByGrantId(second);
      assert.equal(await tokens.find(id), undefined);
    });
  });

  describe("through oidc-provider's models, wired by createContext", () => {
    async function issue() {
      const { provider, stores } = await ctx.startProvider();
      const registered = await registerClient(provider, stores.clients, {
        redirect_uris: ['http://127.0.0.1:1/callback'],
        token_endpoint_auth_method: 'client_secret_post',
      });
      const client = (await provider.Client.find(registered.client_id))!;
      const accountId = '0x0000000000000000000000000000000000000001';
      const grant = new provider.Grant({ clientId: client.clientId, accountId });
      grant.addOIDCScope('openid profile');
      const grantId = await grant.save();
      const token = new provider.AccessToken({ accountId, client, grantId, scope: 'openid profile', gty: 'authorization_code' });
      const value = await token.save();
      return { provider, client, accountId, grantId, value };
    }

    it('saves a Session and finds it by id and by uid', async () => {
      const { provider } = await ctx.startProvider();
      const session = new provider.Session();
      session.loginAccount({ accountId: 'acc', loginTs: 1_700_000_000 });
      await session.save(3600);
      const byId = await provider.Session.find(session.jti);
      const byUid = await provider.Session.findByUid(session.uid);
      assert.equal(byId?.accountId, 'acc');
      assert.equal(byId?.loginTs, 1_700_000_000);
      assert.equal(byUid?.accountId, 'acc');
      // Saved again through what findByUid gave, it updates the session the cookie names.
      byUid!.loginTs = 1_700_000_100;
      await byUid!.save(3600);
      assert.equal((await provider.Session.find(session.jti))?.loginTs, 1_700_000_100);
    });

    it('saves a Grant and an AccessToken bound to it and finds both', async () => {
      const { provider, client, accountId, grantId, value } = await issue();
      const grant = await provider.Grant.find(grantId);
      assert.equal(grant?.accountId, accountId);
      assert.equal(grant?.clientId, client.clientId);
      assert.equal(grant?.getOIDCScope(), 'openid profile');
      const token = await provider.AccessToken.find(value);
      assert.equal(token?.grantId, grantId);
      assert.equal(token?.accountId, accountId);
      assert.equal(token?.scope, 'openid profile');
    });

    it('makes AccessToken.find answer undefined once the grant is revoked', async () => {
      const { provider, grantId, value } = await issue();
      const survivor = await issue();
      assert.ok(await provider.AccessToken.find(value), 'found before revocation');

      await provider.AccessToken.revokeByGrantId(grantId);
      assert.equal(await provider.AccessToken.find(value), undefined);
      assert.ok(await provider.AccessToken.find(survivor.value), "another grant's token is still found");
    });
  });
});
