// The command line as an operator uses it: clients add/list/remove, migrate, keys; errors exit 2 with a reason.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { cli } from '../helpers/process.ts';

describeEachDatabase('the CLI', (backend) => {
  let db: TestDatabase;
  before(async () => {
    db = await backend.create();
  });
  after(async () => {
    await db?.drop();
  });

  it('migrates an empty database', async () => {
    const res = await cli(['migrate'], db.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /up to date \(1 migrations applied\)/);
  });

  it('adds a confidential client, lists it without its secret, and removes it', async () => {
    const add = await cli(['clients', 'add', '--name', 'Acme', '--redirect-uri', 'https://rp.example/cb', '--redirect-uri', 'https://rp.example/cb2', '--json'], db.env);
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.equal(client.client_name, 'Acme');
    assert.deepEqual(client.redirect_uris, ['https://rp.example/cb', 'https://rp.example/cb2']);
    assert.equal(client.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(client.skip_consent, false);
    assert.ok(client.client_id.length >= 16);
    assert.ok(client.client_secret.length >= 43, 'a 256-bit secret');

    const list = await cli(['clients', 'list', '--json'], db.env);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout);
    assert.deepEqual(listed.map((c: { client_id: string }) => c.client_id), [client.client_id]);
    assert.equal(listed[0].client_secret, undefined);
    assert.doesNotMatch(list.stdout, new RegExp(client.client_secret));

    const remove = await cli(['clients', 'remove', client.client_id], db.env);
    assert.equal(remove.code, 0, remove.stderr);
    const again = await cli(['clients', 'remove', client.client_id], db.env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no client with id/);
  });

  it('adds a public client without a secret, and a skip-consent one', async () => {
    const add = await cli(['clients', 'add', '--name', 'SPA', '--redirect-uri', 'https://spa.example/cb', '--auth-method', 'none', '--skip-consent', '--json'], db.env);
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.equal(client.token_endpoint_auth_method, 'none');
    assert.equal(client.client_secret, undefined);
    assert.equal(client.skip_consent, true);
  });

  it('refuses invalid client metadata with exit code 2 and the reason', async () => {
    const badUri = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', 'not a uri', '--json'], db.env);
    assert.equal(badUri.code, 2);
    assert.match(badUri.stderr, /invalid_(client_metadata|redirect_uri)/);
    const badMethod = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', 'https://x.example/cb', '--auth-method', 'magic'], db.env);
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /magic/);
    const missing = await cli(['clients', 'add', '--name', 'No URI'], db.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--redirect-uri/);
  });

  it('rotates signing keys, keeping the previous one published', async () => {
    const before = await cli(['keys', 'list'], db.env);
    const [activeBefore] = before.stdout.trim().split('\n');
    const rotate = await cli(['keys', 'rotate'], db.env);
    assert.equal(rotate.code, 0, rotate.stderr);
    const list = await cli(['keys', 'list'], db.env);
    const lines = list.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /\tRS256\tactive$/);
    assert.equal(lines[1]!.split('\t')[0], activeBefore!.split('\t')[0]);
  });

  it('names the variable when the configuration is wrong', async () => {
    const res = await cli(['clients', 'list'], { ...db.env, ALLOWED_CHAINS: 'one' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /ALLOWED_CHAINS: /);
  });
});
