// OUTBOUND_PRIVATE_HOSTS exempts the hosts it lists, and only them: a listed host that redirects the
// server's request to an unlisted private address is refused at that hop. Two local HTTP servers: a
// listed one that redirects, and the unlisted target, which serves a client's JWKS.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startTestServer } from '../helpers/server.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A local HTTP server answering with `respond`, counting requests. */
async function startHttpServer(host: string, respond: (res: http.ServerResponse) => void) {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    respond(res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function setup() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), alg: 'RS256', use: 'sig' }] };
  const target = await startHttpServer('127.0.0.1', (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  // Listed by its name, localhost; it sends the request on to 127.0.0.1, which only some tests list.
  const redirector = await startHttpServer('localhost', (res) => res.writeHead(302, { location: `http://127.0.0.1:${target.port}/jwks` }).end());

  /**
   * A provider listing `hosts`, with a private_key_jwt client whose jwks_uri is the redirector; the
   * client authenticates at the revocation endpoint, which makes the provider fetch its keys.
   */
  const authenticate = async (hosts: string) => {
    const server = await startTestServer('memory', { env: { OUTBOUND_PRIVATE_HOSTS: hosts } });
    try {
      const client = await server.addClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `http://localhost:${redirector.port}/jwks` });
      const endpoint = `${server.issuer}/token/revocation`;
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(client.client_id)
        .setSubject(client.client_id)
        .setAudience(endpoint)
        .setJti(randomBytes(16).toString('hex'))
        .setIssuedAt()
        .setExpirationTime('2m')
        .sign(privateKey);
      const res = await fetch(endpoint, {
        method: 'POST',
        body: new URLSearchParams({ token: 'unknown', client_id: client.client_id, client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }),
      });
      return { status: res.status, body: (await res.text()) || '{}' };
    } finally {
      await server.close();
    }
  };

  return {
    authenticate,
    target,
    redirector,
    close: () => Promise.all([target.close(), redirector.close()]),
  };
}

describe('outbound requests that redirect', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    t = await setup();
  });
  after(() => t?.close());

  it('refuses a listed host redirecting to an unlisted private address: the target is never reached', async () => {
    const [redirectsBefore, targetBefore] = [t.redirector.hits(), t.target.hits()];
    const res = await t.authenticate('localhost');
    assert.deepEqual([res.status, (JSON.parse(res.body) as { error?: string }).error], [401, 'invalid_client']);
    assert.equal(t.redirector.hits(), redirectsBefore + 1, 'the listed host was asked');
    assert.equal(t.target.hits(), targetBefore, 'the unlisted private address was not');
  });

  it('follows the redirect when its target is listed too', async () => {
    const targetBefore = t.target.hits();
    const res = await t.authenticate('localhost,127.0.0.1');
    assert.equal(res.status, 200, res.body);
    assert.equal(t.target.hits(), targetBefore + 1);
  });
});
