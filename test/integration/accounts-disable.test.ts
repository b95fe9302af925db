// `accounts disable` and `accounts enable` as an operator runs them (the CLI's runner on the server's own context, as the
// admin socket does): a disabled account's tokens, refresh tokens and session end, its logins are refused with
// `account_disabled` and audited, and `enable` lets it sign in again. On PGlite, Postgres and the in-memory stores.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { runCommand, serverRuntime } from '../../src/cli/commands.ts';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createAgent, followToClient, requestChallenge, startLogin, verify, type TestWallet } from '../helpers/login.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { describeEachStore, type TestServer } from '../helpers/server.ts';

const OFFLINE = { scope: 'openid profile offline_access', prompt: 'consent' };

describeEachStore('accounts disable and enable', (start) => {
  let server: TestServer;
  let stop: () => Promise<void>;
  let client: StoredClient;
  let rp: ReturnType<typeof relyingParty<TestServer>>;

  before(async () => {
    ({ server, stop } = await start());
    client = await server.addClient({ grant_types: ['authorization_code', 'refresh_token'] });
    rp = relyingParty(server);
  });
  after(() => stop());

  const admin = (...argv: string[]) => runCommand(argv, serverRuntime(server.ctx));
  const run = async (...argv: string[]) => {
    const res = await admin(...argv);
    assert.equal(res.exitCode, 0, `${argv.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  /** Whether an access token, a refresh token and a session still work. */
  const alive = async (session: Awaited<ReturnType<typeof rp.signIn>>) => ({
    userinfo: await rp.userinfoStatus(session.tokens.access_token!),
    introspected: (await rp.introspect(client, session.tokens.access_token!)).body.active,
    refresh: (await rp.refresh(client, session.tokens.refresh_token!)).body.error ?? 'ok',
  });
  /** A sign-in through the login API: the status and reason code /verify answers. */
  const attempt = async (wallet: TestWallet, agent = createAgent(server.issuer)) => {
    const uid = await startLogin(agent, rp.authorization(client).url);
    const { message } = await requestChallenge(agent, uid, wallet.address);
    return verify(agent, uid, message, await wallet.signMessage(message));
  };
  const refusals = async (address: string) => JSON.parse(await run('events', '--reason', 'account_disabled', '--address', address, '--json')) as unknown[];

  it('ends the tokens and the session of a disabled account, refuses its logins, and enable lets it in again', async () => {
    const alice = Wallet.createRandom();
    const [session, other] = [await rp.signIn(client, { wallet: alice, params: OFFLINE }), await rp.signIn(client, { params: OFFLINE })];
    assert.deepEqual(await alive(session), { userinfo: 200, introspected: true, refresh: 'ok' });

    const out = await run('accounts', 'disable', alice.address.toLowerCase(), '--reason', 'lost key');
    assert.match(out, new RegExp(`^disabled ${alice.address}$`, 'm'));
    assert.match(out, /^ended [1-9][0-9]* sessions, grants, codes and tokens$/m);
    assert.deepEqual(await alive(session), { userinfo: 401, introspected: false, refresh: 'invalid_grant' });
    assert.deepEqual(await alive(other), { userinfo: 200, introspected: true, refresh: 'ok' }, 'another account keeps its tokens');
    const shown = JSON.parse(await run('accounts', 'show', alice.address, '--json')) as { disabledReason?: string; loginCount: number }[];
    assert.equal(shown[0]!.disabledReason, 'lost key');
    const listed = (await run('accounts', 'list')).split('\n').map((line) => line.split('\t'));
    assert.match(listed.find((f) => f[0] === alice.address)?.[6] ?? '', /^disabled \d{4}-/, 'the text list marks it');
    assert.equal(listed.find((f) => f[0] !== alice.address && f.length > 1)?.length, 6, 'an enabled account has no seventh field');

    // The old session cookie no longer signs in: /auth asks for a login, which is refused.
    const uid = await startLogin(session.agent, rp.authorization(client).url);
    const { message } = await requestChallenge(session.agent, uid, alice.address);
    const refused = await verify(session.agent, uid, message, await alice.signMessage(message));
    assert.deepEqual([refused.status, refused.body.error], [403, 'account_disabled']);
    assert.equal((await refusals(alice.address)).length, 1, 'the refusal is a login event');
    assert.equal((JSON.parse(await run('accounts', 'show', alice.address, '--json')) as { loginCount: number }[])[0]!.loginCount, 1, 'not counted');

    assert.match(await run('accounts', 'enable', alice.address), new RegExp(`^enabled ${alice.address}$`, 'm'));
    assert.deepEqual(await alive(session), { userinfo: 401, introspected: false, refresh: 'invalid_grant' }, 'ended stays ended');
    const again = await rp.signIn(client, { wallet: alice, params: OFFLINE });
    assert.deepEqual(await alive(again), { userinfo: 200, introspected: true, refresh: 'ok' });
  });

  it('leaves no session to a login that raced the disable, even after enable: the verify won, the disable came before the redirect back', async () => {
    const bob = Wallet.createRandom();
    await rp.signIn(client, { wallet: bob });
    const agent = createAgent(server.issuer);
    const { url } = rp.authorization(client);
    const uid = await startLogin(agent, url);
    const { message } = await requestChallenge(agent, uid, bob.address);
    const verified = await verify(agent, uid, message, await bob.signMessage(message));
    assert.equal(verified.status, 200);
    await run('accounts', 'disable', bob.address);
    // The browser comes back from the wallet after the disable: it is sent to sign in again (never a 500), not to the RP.
    const resumed = await agent.fetch(new URL(verified.body.redirectTo!, server.issuer), { redirect: 'manual' });
    assert.equal(resumed.status, 303, `the resume answered ${resumed.status}`);
    assert.match(resumed.headers.get('location') ?? '', /^\/interaction\//, 'a new sign-in, where the login is refused');
    // The session that login left (saved after the disable's DELETE) does not come back with the account.
    await run('accounts', 'enable', bob.address);
    const silent = await followToClient(agent, rp.authorization(client, { prompt: 'none' }).url.toString());
    assert.equal(silent.searchParams.get('error'), 'login_required', `after enable: ${silent.href}`);
  });

  it('refuses a login that comes after the disable, on every attempt, with the same reason', async () => {
    const carol = Wallet.createRandom();
    await rp.signIn(client, { wallet: carol });
    await run('accounts', 'disable', carol.address);
    assert.match(await run('accounts', 'disable', carol.address), new RegExp(`^already disabled ${carol.address}$`, 'm'));
    for (let i = 0; i < 2; i++) assert.deepEqual(((r) => [r.status, r.body.error])(await attempt(carol)), [403, 'account_disabled']);
    assert.equal((await refusals(carol.address)).length, 2);
  });

  it('answers malformed input with a clear usage error (exit code 2)', async () => {
    const dave = Wallet.createRandom();
    await rp.signIn(client, { wallet: dave });
    const cases: [string[], RegExp][] = [
      [['accounts', 'disable'], /missing required argument/],
      [['accounts', 'disable', Wallet.createRandom().address], /no account with subject or address/],
      [['accounts', 'enable', 'not-a-subject\u001b[31m'], /no account with subject or address not-a-subject\\u001b\[31m/],
      [['accounts', 'disable', dave.address, '--reason', 'two\nlines'], /--reason[\s\S]*one line/],
      [['accounts', 'disable', dave.address, '--reason', 'x'.repeat(501)], /--reason[\s\S]*1 to 500 characters/],
      [['accounts', 'disable', dave.address, '--reason', ' '], /--reason/],
    ];
    for (const [argv, expected] of cases) {
      const res = await admin(...argv);
      assert.equal(res.exitCode, 2, argv.join(' '));
      assert.match(res.stderr, expected, argv.join(' '));
    }
    assert.equal((await attempt(dave)).status, 200, 'nothing was disabled');
  });
});
