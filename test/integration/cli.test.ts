// The command line as an operator uses it: clients add/list/remove, migrate, keys; errors exit 2 with a reason.
// Each command is a process that loads the whole server: the tests run at once, each on a database of its own.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, it } from 'node:test';
import { createDb, MIGRATION_NAMES } from '../../src/db/knex.ts';
import { describeEachDatabase, type DatabaseOptions, type TestDatabase } from '../helpers/db.ts';
import { cli } from '../helpers/process.ts';

/** Tests running at once: a command is CPU-bound (about 2.5 s of CPU, PGlite's start another 1.3 s), so one per core. */
const CONCURRENCY = Math.max(2, os.availableParallelism());

describeEachDatabase('the CLI', { concurrency: CONCURRENCY }, (backend) => {
  const dbs: TestDatabase[] = [];
  /** A database of the test's own: tests run at once, and a PGlite directory admits one process at a time. */
  const fresh = async (opts?: DatabaseOptions) => {
    const db = await backend.create(opts);
    dbs.push(db);
    return db;
  };
  after(() => Promise.all(dbs.map((db) => db.drop())));

  it('migrates an empty database', async () => {
    const db = await fresh({ empty: true });
    const res = await cli(['migrate'], db.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /up to date \(7 migrations applied\)/);
  });

  it('migrate --status changes nothing, and a database a newer version migrated is named, not started on', async () => {
    const db = await fresh({ empty: true });
    const before = await cli(['migrate', '--status', '--json'], db.env);
    assert.equal(before.code, 0, before.stderr);
    assert.deepEqual(JSON.parse(before.stdout), { applied: [], pending: MIGRATION_NAMES, unknown: [] });
    // --status migrated nothing: the same answer again.
    assert.deepEqual(JSON.parse((await cli(['migrate', '--status', '--json'], db.env)).stdout).pending, MIGRATION_NAMES);

    assert.equal((await cli(['migrate'], db.env)).code, 0);
    const after = await cli(['migrate', '--status'], db.env);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, new RegExp(`^applied\t${MIGRATION_NAMES[0]}$`, 'm'));
    assert.match(after.stdout, new RegExp(`^${MIGRATION_NAMES.length} applied, 0 pending$`, 'm'));

    // A newer wallet-oidc applied a migration this version has never seen.
    const future = '29991231000000_from_a_newer_version';
    const knex = createDb(db.database);
    try {
      await knex('knex_migrations').insert({ name: future, batch: 99, migration_time: new Date() });
    } finally {
      await knex.destroy();
    }
    const status = await cli(['migrate', '--status', '--json'], db.env);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), { applied: MIGRATION_NAMES, pending: [], unknown: [future] });
    for (const args of [['migrate'], ['clients', 'list']]) {
      const refused = await cli(args, db.env);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`migrated by a newer wallet-oidc \\(unknown migrations: ${future}\\).*only go forward`));
    }
  });

  it('adds a confidential client, lists it without its secret, and removes it', async () => {
    const db = await fresh();
    const add = await cli(
      ['clients', 'add', '--name', 'Acme', '--redirect-uri', 'https://rp.example/cb', '--redirect-uri', 'https://rp.example/cb2', '--json'],
      db.env,
    );
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.equal(client.client_name, 'Acme');
    assert.deepEqual(client.redirect_uris, ['https://rp.example/cb', 'https://rp.example/cb2']);
    assert.equal(client.token_endpoint_auth_method, 'client_secret_post');
    assert.notEqual(client.skip_consent, true);
    assert.match(client.client_id, /^[0-9a-f]{32}$/, 'a 128-bit id in hex: it never starts with "-", which the CLI would read as an option');
    assert.ok(client.client_secret.length >= 43, 'a 256-bit secret');

    const list = await cli(['clients', 'list', '--json'], db.env);
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout);
    assert.deepEqual(
      listed.map((c: { client_id: string }) => c.client_id),
      [client.client_id],
    );
    assert.equal(listed[0].client_secret, undefined);
    assert.doesNotMatch(list.stdout, new RegExp(client.client_secret));

    const remove = await cli(['clients', 'remove', client.client_id], db.env);
    assert.equal(remove.code, 0, remove.stderr);
    const again = await cli(['clients', 'remove', client.client_id], db.env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no client with id/);
  });

  it('adds a public client without a secret, and a skip-consent one', async () => {
    const db = await fresh();
    const add = await cli(
      ['clients', 'add', '--name', 'SPA', '--redirect-uri', 'https://spa.example/cb', '--auth-method', 'none', '--skip-consent', '--json'],
      db.env,
    );
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.equal(client.token_endpoint_auth_method, 'none');
    assert.equal(client.client_secret, undefined);
    assert.equal(client.skip_consent, true);
  });

  it('adds a device-flow client with --device: public, the device code and refresh grants, no redirect URI', async () => {
    const db = await fresh();
    const add = await cli(['clients', 'add', '--name', 'TV', '--device', '--json'], db.env);
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.deepEqual(client.grant_types, ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']);
    assert.deepEqual(client.response_types, []);
    assert.deepEqual(client.redirect_uris ?? [], []);
    assert.equal(client.token_endpoint_auth_method, 'none');
    assert.equal(client.client_secret, undefined);
    const mixed = await cli(['clients', 'add', '--device', '--redirect-uri', 'https://x.example/cb'], db.env);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /--device/);
  });

  it('refuses invalid client metadata with exit code 2 and the reason', async () => {
    const db = await fresh();
    const badUri = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', 'not a uri', '--json'], db.env);
    assert.equal(badUri.code, 2);
    assert.match(badUri.stderr, /invalid_(client_metadata|redirect_uri)/);
    const badMethod = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', 'https://x.example/cb', '--auth-method', 'magic'], db.env);
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /magic/);
    const missing = await cli(['clients', 'add', '--name', 'No URI'], db.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /redirect_uris/);
  });

  it('takes RFC 7591 metadata as JSON beside its flags, the flags winning', async () => {
    const db = await fresh();
    const metadata = {
      client_name: 'from metadata',
      redirect_uris: ['https://tenant.auth0.com/login/callback'],
      response_types: ['id_token', 'code'],
      grant_types: ['implicit', 'authorization_code'],
      post_logout_redirect_uris: ['https://tenant.auth0.com/logout'],
      backchannel_logout_uri: 'https://kc.example/realms/r/broker/wallet/backchannel-logout',
    };
    const add = await cli(['clients', 'add', '--name', 'Auth0', '--metadata', JSON.stringify(metadata), '--json'], db.env);
    assert.equal(add.code, 0, add.stderr);
    const client = JSON.parse(add.stdout);
    assert.equal(client.client_name, 'Auth0');
    for (const key of ['redirect_uris', 'response_types', 'grant_types', 'post_logout_redirect_uris', 'backchannel_logout_uri'] as const) {
      assert.deepEqual(client[key], metadata[key], key);
    }
    assert.equal(client.token_endpoint_auth_method, 'client_secret_post');
  });

  it('refuses metadata that is not JSON, unknown, generated by us, incomplete, prototype-reaching or insecure, with exit code 2', async () => {
    const db = await fresh();
    const add = (metadata: string) => cli(['clients', 'add', '--redirect-uri', 'https://x.example/cb', '--metadata', metadata], db.env);
    const cases: [string, RegExp][] = [
      ['{nope', /--metadata: not valid JSON/],
      ['[1]', /--metadata: must be a JSON object/],
      ['{"favourite_colour":"blue"}', /unknown client metadata: favourite_colour/],
      ['{"client_secret":"mine"}', /client_secret cannot be set/],
      ['{"token_endpoint_auth_method":"private_key_jwt"}', /jwks or jwks_uri is mandatory/],
      ['{"response_types":["token"]}', /invalid_client_metadata/],
      ['{"__proto__":{"skip_consent":true}}', /invalid_client_metadata: __proto__: the key "__proto__" is not allowed/],
      ['{"jwks":{"keys":[{"constructor":{}}]}}', /invalid_client_metadata: jwks\.keys\.0\.constructor: the key "constructor" is not allowed/],
      // We hold RS256, ES256 and EdDSA keys only: an ID token alg we cannot sign is refused at registration.
      ['{"id_token_signed_response_alg":"PS256"}', /invalid_client_metadata: id_token_signed_response_alg must be 'RS256', 'ES256', or 'EdDSA'/],
      ['{"id_token_signed_response_alg":"none"}', /invalid_client_metadata: id_token_signed_response_alg must be 'RS256', 'ES256', or 'EdDSA'/],
    ];
    for (const [metadata, reason] of cases) {
      const res = await add(metadata);
      assert.equal(res.code, 2, `${metadata}: ${res.stderr}`);
      assert.match(res.stderr, reason, metadata);
    }
    // id_token implies the implicit grant, whose redirect URIs must be https, though grant_types does not list it.
    const implicit = await cli(['clients', 'add', '--redirect-uri', 'http://x.example/cb', '--metadata', '{"response_types":["id_token"]}'], db.env);
    assert.equal(implicit.code, 2, implicit.stderr);
    assert.match(implicit.stderr, /invalid_redirect_uri: .*implicit flow MUST only register URLs using the https scheme/);
  });

  it('shows a client without its secret, and updates it: fields, secret rotation, auth method', async () => {
    const db = await fresh();
    const created = JSON.parse((await cli(['clients', 'add', '--name', 'Before', '--redirect-uri', 'https://u.example/cb', '--json'], db.env)).stdout);
    const show = await cli(['clients', 'show', created.client_id, '--json'], db.env);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(JSON.parse(show.stdout).client_name, 'Before');
    assert.doesNotMatch(show.stdout, new RegExp(created.client_secret));

    const renamed = await cli(
      ['clients', 'update', created.client_id, '--name', 'After', '--metadata', '{"post_logout_redirect_uris":["https://u.example/bye"]}', '--json'],
      db.env,
    );
    assert.equal(renamed.code, 0, renamed.stderr);
    const after = JSON.parse(renamed.stdout);
    assert.equal(after.client_name, 'After');
    assert.deepEqual(after.post_logout_redirect_uris, ['https://u.example/bye']);
    assert.deepEqual(after.redirect_uris, ['https://u.example/cb']);
    assert.equal(after.client_secret, undefined, 'the unchanged secret is not printed');

    const rotated = JSON.parse((await cli(['clients', 'update', created.client_id, '--rotate-secret', '--json'], db.env)).stdout);
    assert.ok(rotated.client_secret && rotated.client_secret !== created.client_secret);

    const madePublic = JSON.parse((await cli(['clients', 'update', created.client_id, '--auth-method', 'none', '--json'], db.env)).stdout);
    assert.equal(madePublic.token_endpoint_auth_method, 'none');
    assert.equal(madePublic.client_secret, undefined);
    const noSecret = await cli(['clients', 'update', created.client_id, '--rotate-secret'], db.env);
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /no(ne)? (secret )?to rotate/);

    const unknown = await cli(['clients', 'update', 'nobody', '--name', 'x'], db.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no client with id nobody/);
  });

  it('stages a key rotation: rotate publishes pending keys, activate makes them sign, retire withdraws the old ones', async () => {
    const db = await fresh();
    const list = async (...flags: string[]) => {
      const res = await cli(['keys', 'list', '--json', ...flags], db.env);
      assert.equal(res.code, 0, res.stderr);
      return JSON.parse(res.stdout) as Array<{ kid: string; alg: string; state: string; activatesAt: string }>;
    };
    const first = await list();
    assert.deepEqual(first.map((k) => `${k.alg} ${k.state}`).sort(), ['ES256 active', 'EdDSA active', 'RS256 active']);

    const rotate = await cli(['keys', 'rotate'], db.env);
    assert.equal(rotate.code, 0, rotate.stderr);
    const pending = rotate.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.deepEqual(pending.map(([what, , alg, state]) => `${what} ${alg} ${state}`).sort(), [
      'published ES256 pending',
      'published EdDSA pending',
      'published RS256 pending',
    ]);
    // KEY_ACTIVATION_DELAY's default: a day after the rotation.
    const activatesAt = Date.parse(pending[0]![5]!);
    assert.ok(Math.abs(activatesAt - Date.now() - 86_400_000) < 600_000, `activates at ${pending[0]![5]}`);
    const again = await cli(['keys', 'rotate'], db.env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already pending/);

    const oldRsa = first.find((k) => k.alg === 'RS256')!.kid;
    const refused = await cli(['keys', 'retire', oldRsa], db.env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /signs RS256 tokens now/);
    const unknown = await cli(['keys', 'activate', 'nope'], db.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no signing key with id nope/);

    assert.equal((await cli(['keys', 'activate'], db.env)).code, 0);
    const after = await list();
    assert.equal(after.find((k) => k.kid === oldRsa)?.state, 'previous');
    assert.equal(after.filter((k) => k.state === 'active').length, 3);
    const none = await cli(['keys', 'activate'], db.env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no pending keys/);

    const retire = await cli(['keys', 'retire', oldRsa], db.env);
    assert.equal(retire.code, 0, retire.stderr);
    assert.ok(!(await list()).some((k) => k.kid === oldRsa), 'a retired key is listed only with --all');
    assert.equal((await list('--all')).find((k) => k.kid === oldRsa)?.state, 'retired');
    const text = await cli(['keys', 'list'], db.env);
    assert.match(text.stdout, /^\S+\tRS256\tactive\t\S+Z\t\S+Z\t-$/m);
  });

  it('names the variable when the configuration is wrong', async () => {
    const db = await fresh();
    const res = await cli(['clients', 'list'], { ...db.env, ALLOWED_CHAINS: 'one' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /ALLOWED_CHAINS: /);
  });
});
