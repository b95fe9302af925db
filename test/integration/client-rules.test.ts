// Client metadata that must never be stored or served: keys that reach an object's prototype, and
// implicit or hybrid clients (a response type with id_token) with http or localhost redirect URIs,
// refused at registration and, when stored anyway (an older version, a hand-edited row), at load.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientMetadata } from 'oidc-provider';
import { ClientMetadataError } from '../../src/errors.ts';
import { registerClient, updateClient } from '../../src/oidc/clients.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SECURE_REDIRECT = 'https://tenant.auth0.com/login/callback';

describe('client metadata rules', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('memory');
  });
  after(() => server?.close());

  const register = (metadata: Record<string, unknown>) =>
    registerClient(server.provider, server.ctx.stores.clients, { redirect_uris: [SECURE_REDIRECT], ...metadata } as Omit<ClientMetadata, 'client_id'>);

  /** The rejection's code and message, or a failure when it resolves. */
  const refusal = async (promise: Promise<unknown>): Promise<ClientMetadataError> => {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof ClientMetadataError, `expected ClientMetadataError, got ${String(err)}`);
      return err;
    }
    assert.fail('accepted');
  };

  describe('keys that reach a prototype', () => {
    // As the CLI's --metadata gives them: JSON.parse makes `__proto__` an own key, which spreads keep.
    const cases = [
      '{"__proto__": {"skip_consent": true}}',
      '{"constructor": {"prototype": {"polluted": true}}}',
      '{"jwks": {"keys": [{"kty": "RSA", "prototype": {}}]}}',
      '{"client_name": "x", "post_logout_redirect_uris": [{"__proto__": {"polluted": true}}]}',
    ];

    it('refuses __proto__, constructor and prototype at any depth, naming where', async () => {
      for (const json of cases) {
        const err = await refusal(register(JSON.parse(json) as Record<string, unknown>));
        assert.equal(err.code, 'invalid_client_metadata', json);
        assert.match(err.message, /the key "(__proto__|constructor|prototype)" is not allowed/, json);
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing reached Object.prototype');
      assert.equal((await server.ctx.stores.clients.list()).length, 0, 'nothing was stored');
    });

    it('refuses them in an update too, leaving the client as it was', async () => {
      const client = await register({ client_name: 'Before' });
      const patch = JSON.parse('{"client_name": "After", "__proto__": {"skip_consent": true}}') as Record<string, unknown>;
      await refusal(updateClient(server.provider, server.ctx.stores.clients, client.client_id, patch));
      assert.equal((await server.ctx.stores.clients.find(client.client_id))?.client_name, 'Before');
    });
  });

  describe('implicit and hybrid clients', () => {
    for (const [responseType, redirect] of [
      ['id_token', 'http://rp.example.com/callback'],
      ['id_token', 'https://localhost/callback'],
      ['code id_token', 'http://rp.example.com/callback'],
    ] as const) {
      it(`refuses response_types ["${responseType}"] with ${redirect}, though grant_types omits implicit`, async () => {
        const err = await refusal(register({ response_types: [responseType], grant_types: ['authorization_code'], redirect_uris: [redirect] }));
        assert.match(err.message, /implicit/);
      });
    }

    it('accepts an id_token client with an https redirect URI, and stores the implicit grant it implies', async () => {
      const client = await register({ response_types: ['id_token'], grant_types: ['authorization_code'] });
      assert.deepEqual(client.grant_types?.includes('implicit'), true);
    });

    it('refuses an update that gives an id_token client an http redirect URI', async () => {
      const client = await register({ response_types: ['id_token'] });
      const patch = { redirect_uris: ['http://rp.example.com/callback'] };
      await refusal(updateClient(server.provider, server.ctx.stores.clients, client.client_id, patch));
    });

    it('does not serve such a client stored without validation: /auth answers 400 invalid_redirect_uri', async () => {
      const clientId = 'stored-before-the-rule';
      await server.ctx.stores.clients.save({
        client_id: clientId,
        client_secret: 'x'.repeat(43),
        redirect_uris: ['http://rp.example.com/callback'],
        response_types: ['id_token'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_post',
      });
      const url = new URL('/auth', server.issuer);
      const params = { client_id: clientId, redirect_uri: 'http://rp.example.com/callback', response_type: 'id_token', scope: 'openid', nonce: 'n' };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /Reason code: <code>invalid_redirect_uri<\/code>/);
    });

    it('does not serve a stored client holding a __proto__ key', async () => {
      const clientId = 'stored-with-proto';
      const metadata = JSON.parse(
        `{"client_id": "${clientId}", "redirect_uris": ["${SECURE_REDIRECT}"], "__proto__": {"skip_consent": true}}`,
      ) as ClientMetadata;
      await server.ctx.stores.clients.save({ ...metadata, token_endpoint_auth_method: 'none' });
      const url = new URL('/auth', server.issuer);
      for (const [k, v] of Object.entries({ client_id: clientId, redirect_uri: SECURE_REDIRECT, response_type: 'code', scope: 'openid' }))
        url.searchParams.set(k, v);
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /Reason code: <code>invalid_client_metadata<\/code>/);
    });
  });
});
