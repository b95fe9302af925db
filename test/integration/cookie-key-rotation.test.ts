// Rotating COOKIE_KEYS with real logins across restarts on one database: with the new key prepended (new,old) a
// signed-in session keeps single sign-on and a login in progress finishes; with the new key alone, cookies signed
// only under the old one are no longer recognised (the user signs in again: never a 500).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createPgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, followToClient, signIn, startLogin, verify, requestChallenge, type Agent } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI, startTestServer, type TestServer } from '../helpers/server.ts';

const newKey = () => randomBytes(32).toString('hex');

// Cookies and their keys do not depend on the store: one PGlite database, kept across the restarts, is enough.
describe('rotating COOKIE_KEYS', () => {
  const [oldKey, newerKey] = [newKey(), newKey()];
  let db: TestDatabase;
  let server: TestServer | undefined;
  let client: StoredClient;
  /** Signed in under the old key, used again while both keys are listed. */
  let ssoUser: Agent;
  /** Signed in under the old key, not seen again until only the new key is left. */
  let idleUser: Agent;
  /** A login started under the old key (interaction cookie), finished while both keys are listed. */
  let pending: { agent: Agent; uid: string };
  /** A login started under the old key and not finished before the old key is dropped. */
  let abandoned: { agent: Agent; uid: string };

  /** (Re)starts the server on the same database and port (the cookies' origin), with `keys` as COOKIE_KEYS. */
  const restart = async (keys: string[]) => {
    const port = server?.port;
    await server?.close();
    server = await startTestServer(db, { env: { COOKIE_KEYS: keys.join(',') }, ...(port ? { port } : {}) });
    return relyingParty(server);
  };

  /** A silent authorization request: a code when the session is recognised, login_required when not. */
  const silently = async (agent: Agent) => {
    const rp = relyingParty(server!);
    return rp.authorize(agent, rp.authorization(client, { prompt: 'none' }).url);
  };

  before(async () => {
    db = await createPgliteDatabase();
    const rp = await restart([oldKey]);
    client = await server!.addClient({ skip_consent: true });
    ssoUser = (await rp.signIn(client)).agent;
    idleUser = (await rp.signIn(client)).agent;
    for (const which of ['pending', 'abandoned'] as const) {
      const agent = createAgent(server!.issuer);
      const started = { agent, uid: await startLogin(agent, rp.authorization(client).url) };
      if (which === 'pending') pending = started;
      else abandoned = started;
    }
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  it('keeps single sign-on and logins in progress when the new key is prepended (new,old)', async () => {
    const rp = await restart([newerKey, oldKey]);
    const silent = await silently(ssoUser);
    assert.equal(silent.origin + silent.pathname, REDIRECT_URI);
    assert.ok(silent.searchParams.get('code'), `the session is recognised: ${silent.href}`);

    const callback = await followToClient(pending.agent, await signIn(pending.agent, pending.uid, Wallet.createRandom()));
    assert.ok(callback.searchParams.get('code'), `the login started under the old key finishes: ${callback.href}`);
    // And new sessions start under the new key.
    assert.ok((await rp.signIn(client)).tokens.id_token);
  });

  it('forgets cookies signed only under the old key once it is dropped, asking for a login again without a 500', async () => {
    await restart([newerKey]);
    const refused = await silently(idleUser);
    assert.equal(refused.origin + refused.pathname, REDIRECT_URI);
    assert.equal(refused.searchParams.get('error'), 'login_required', refused.href);
    // Without prompt=none: the login page again, for a new signature.
    const rp = relyingParty(server!);
    const uid = await startLogin(idleUser, rp.authorization(client).url);
    assert.ok(await requestChallenge(idleUser, uid, Wallet.createRandom().address));

    // A login started under the old key alone is gone: a reason code, not a server error.
    const wallet = Wallet.createRandom();
    const stale = await verify(abandoned.agent, abandoned.uid, 'any message', await wallet.signMessage('any message'));
    assert.equal(stale.status, 400, JSON.stringify(stale.body));
    assert.equal(stale.body.error, 'interaction_not_found');
  });

  it('keeps the session of a user seen while both keys were listed: its cookies were re-signed under the new key', async () => {
    const silent = await silently(ssoUser);
    assert.ok(silent.searchParams.get('code'), silent.href);
  });
});
