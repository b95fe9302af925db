// `npm start` as a user runs it: it serves the provider, stops cleanly, and refuses unsafe production settings.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createPgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort, run, spawnEntry, waitForListening } from '../helpers/process.ts';

describe('the server process', () => {
  let db: TestDatabase;
  before(async () => {
    // Without tables, as a first start finds it: the server applies the migrations itself.
    db = await createPgliteDatabase({ empty: true });
  });
  after(async () => {
    await db?.drop();
  });

  it('starts on the embedded database, serves discovery and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawnEntry('src/main.ts', [], { ...db.env, PORT: String(port), HOST: '127.0.0.1' });
    try {
      assert.equal(await waitForListening(child), port);
      const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json();
      assert.equal(discovery.issuer, `http://localhost:${port}`);
      assert.deepEqual(discovery.response_types_supported, ['code', 'id_token', 'code id_token']);
      assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });

  it('refuses to start in production on an http issuer or without explicit secrets, naming each variable', async () => {
    const res = await run('src/main.ts', [], { ...db.env, NODE_ENV: 'production', ISSUER: 'http://id.example.com' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /ISSUER: must be an https URL/);
    assert.match(res.stderr, /COOKIE_KEYS: required/);
    assert.match(res.stderr, /ENCRYPTION_KEY: required/);
  });

  it('refuses an https issuer in production unless a TLS proxy is declared', async () => {
    const env = {
      ...db.env,
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.com',
      COOKIE_KEYS: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    };
    const res = await run('src/main.ts', [], env);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /TRUST_PROXY: /);
  });

  it('names a malformed variable', async () => {
    const res = await run('src/main.ts', [], { ...db.env, PORT: 'eighty' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /PORT: must be a whole number/);
  });
});
