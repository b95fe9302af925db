// The read-only audit commands as an operator uses them: `events` with its filters, `accounts list` and `accounts show`,
// on login events and accounts that real logins wrote. The server is closed first: the CLI opens the database itself.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, it } from 'node:test';
import { Wallet } from 'ethers';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { createAgent, postJson, startLogin } from '../helpers/login.ts';
import { cli } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { startTestServer } from '../helpers/server.ts';

const CONCURRENCY = Math.max(2, os.availableParallelism());
const DAY = 86_400_000;

describeEachDatabase('the CLI on login events and accounts', { concurrency: CONCURRENCY }, (backend) => {
  let db: TestDatabase;
  const [alice, bob] = [Wallet.createRandom(), Wallet.createRandom()];
  const clients = { a: '', b: '' };
  /** Between the logins two days ago and today's. */
  let yesterday: Date;

  before(async () => {
    db = await backend.create();
    let offsetMs = -2 * DAY;
    const server = await startTestServer(db, { clock: () => new Date(Date.now() + offsetMs) });
    try {
      const [a, b] = [await server.addClient({ client_name: 'A' }), await server.addClient({ client_name: 'B' })];
      Object.assign(clients, { a: a.client_id, b: b.client_id });
      const rp = relyingParty(server);
      await rp.signIn(a, { wallet: alice });
      await rp.signIn(b, { wallet: bob });
      offsetMs = 0;
      yesterday = new Date(Date.now() - DAY);
      // A refusal that records the address as it was sent, in lower case.
      const agent = createAgent(server.issuer);
      const uid = await startLogin(agent, rp.authorization(a).url);
      const refused = await postJson(agent, `/interaction/${uid}/challenge`, { address: alice.address.toLowerCase(), chainId: 999999 });
      assert.equal(refused.status, 400);
      await rp.signIn(b, { wallet: alice });
    } finally {
      await server.close();
    }
  });
  after(() => db.drop());

  const run = async (args: string[]) => {
    const res = await cli(args, db.env);
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  const events = async (...args: string[]) => JSON.parse(await run(['events', '--json', ...args])) as Record<string, unknown>[];
  const summary = (list: Record<string, unknown>[]) => list.map((e) => `${e.outcome} ${e.reason ?? ''} ${e.clientId} ${e.address}`);

  it('prints every login event newest first, as JSON and as text', async () => {
    const [json, text] = await Promise.all([events(), run(['events'])]);
    assert.deepEqual(summary(json), [
      `success  ${clients.b} ${alice.address}`,
      `refused chain_not_allowed ${clients.a} ${alice.address.toLowerCase()}`,
      `success  ${clients.b} ${bob.address}`,
      `success  ${clients.a} ${alice.address}`,
    ]);
    const [latest] = json;
    assert.deepEqual(Object.keys(latest!).sort(), ['address', 'at', 'chainId', 'clientId', 'interactionUid', 'ip', 'outcome', 'sub', 'userAgent']);
    assert.equal(latest!.chainId, 1);
    assert.equal(latest!.sub, alice.address);
    assert.ok(Date.parse(latest!.at as string) > yesterday.getTime());

    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    const fields = lines[1]!.split('\t');
    assert.deepEqual(fields.slice(1, 6), ['refused', 'chain_not_allowed', clients.a, alice.address.toLowerCase(), '999999']);
    assert.equal(fields[0], json[1]!.at);
    assert.match(fields[6]!, /127\.0\.0\.1/);
  });

  it('filters events by outcome, reason, address in any case, client and time, and limits them', async () => {
    const [refused, byReason, byAddress, byClient, since, until, relative, limited, none] = await Promise.all([
      events('--outcome', 'refused'),
      events('--reason', 'chain_not_allowed', '--outcome', 'refused'),
      events('--address', `0x${alice.address.slice(2).toUpperCase()}`),
      events('--client', clients.b, '--outcome', 'success'),
      events('--since', yesterday.toISOString()),
      events('--until', yesterday.toISOString()),
      events('--since', '1d', '--client', clients.a),
      events('--limit', '1'),
      events('--until', '2000-01-01'),
    ]);
    assert.deepEqual(summary(refused), [`refused chain_not_allowed ${clients.a} ${alice.address.toLowerCase()}`]);
    assert.deepEqual(byReason, refused);
    assert.deepEqual(summary(byAddress), [
      `success  ${clients.b} ${alice.address}`,
      `refused chain_not_allowed ${clients.a} ${alice.address.toLowerCase()}`,
      `success  ${clients.a} ${alice.address}`,
    ]);
    assert.deepEqual(summary(byClient), [`success  ${clients.b} ${alice.address}`, `success  ${clients.b} ${bob.address}`]);
    assert.deepEqual(summary(since), [`success  ${clients.b} ${alice.address}`, `refused chain_not_allowed ${clients.a} ${alice.address.toLowerCase()}`]);
    assert.deepEqual(summary(until), [`success  ${clients.b} ${bob.address}`, `success  ${clients.a} ${alice.address}`]);
    assert.deepEqual(summary(relative), [`refused chain_not_allowed ${clients.a} ${alice.address.toLowerCase()}`]);
    assert.deepEqual(summary(limited), [`success  ${clients.b} ${alice.address}`]);
    assert.deepEqual(none, []);
  });

  it('refuses bad option values with exit code 2, naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['events', '--outcome', 'maybe'], /--outcome/],
      [['events', '--reason', 'nope'], /--reason/],
      [['events', '--address', '0x1234'], /--address/],
      [['events', '--since', 'yesterday'], /--since/],
      [['events', '--until', '2025-13-45T99:00:00Z'], /--until/],
      [['events', '--limit', '0'], /--limit/],
      [['events', '--limit', '10001'], /--limit/],
      [['events', '--since', '1h', '--until', '2d'], /--since must be before --until/],
      [['accounts', 'list', '--limit', 'ten'], /--limit/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args, db.env)));
    results.forEach((res, i) => {
      const [args, message] = cases[i]!;
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message, args.join(' '));
      assert.equal(res.stdout, '', args.join(' '));
    });
  });

  it('lists accounts by latest login and shows one by subject or by address in any case', async () => {
    const [list, limited, text, bySub, byAddress, unknown] = await Promise.all([
      run(['accounts', 'list', '--json']).then(JSON.parse),
      run(['accounts', 'list', '--json', '--limit', '1']).then(JSON.parse),
      run(['accounts', 'list']),
      run(['accounts', 'show', bob.address, '--json']).then(JSON.parse),
      run(['accounts', 'show', alice.address.toLowerCase()]),
      cli(['accounts', 'show', Wallet.createRandom().address], db.env),
    ]);
    assert.deepEqual(
      list.map((a: { sub: string; loginCount: number }) => `${a.sub} ${a.loginCount}`),
      [`${alice.address} 2`, `${bob.address} 1`],
    );
    assert.deepEqual(limited, [list[0]]);
    assert.deepEqual(
      text
        .trimEnd()
        .split('\n')
        .map((line) => line.split('\t').slice(0, 3)),
      [
        [alice.address, alice.address, 'eoa'],
        [bob.address, bob.address, 'eoa'],
      ],
    );
    assert.deepEqual(bySub, [list[1]]);
    assert.match(byAddress, new RegExp(`^sub: +${alice.address}$`, 'm'));
    assert.match(byAddress, /^login count: +2$/m);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no account with subject or address/);
  });
});
