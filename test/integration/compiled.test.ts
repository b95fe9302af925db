// The compiled build (`npm run build`) as the image runs it: plain `node`, no TypeScript loader, production settings,
// and nothing imported at run time that `npm ci --omit=dev` leaves out.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compiledBuild, removeCompiledBuild } from '../helpers/build.ts';
import { describeEachDatabase, type TestDatabase } from '../helpers/db.ts';
import { cli, freePort, ROOT, spawnEntry, waitForListening } from '../helpers/process.ts';

/** Every file under `dir` (node_modules, a link to the repository's, left out). */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !path.relative(dir, f).startsWith('node_modules'));
}

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

after(removeCompiledBuild);

describe('the compiled build', () => {
  let build: string;
  before(async () => {
    build = await compiledBuild();
  });

  it('holds JavaScript, the views and their static files, and no TypeScript', () => {
    const files = filesUnder(build).map((f) => path.relative(build, f));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
    );
    for (const f of ['src/main.js', 'src/cli/index.js', 'views/login.ejs', 'views/i18n/en.json', 'views/static/login.js']) assert.ok(files.includes(f), f);
    assert.ok(files.some((f) => /^migrations\/\d{14}_\w+\.js$/.test(f)));
  });

  it('imports at run time only Node built-ins and production dependencies', () => {
    const { dependencies } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    for (const file of filesUnder(build).filter((f) => f.endsWith('.js') && !f.includes(`${path.sep}views${path.sep}`))) {
      const code = fs.readFileSync(file, 'utf8');
      // Static and dynamic imports, and the one createRequire(...)('…') (the optional secp256k1 binding).
      for (const [, spec] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\)\()['"]([^'"]+)['"]/g)) {
        if (!spec!.startsWith('.')) imported.add(packageOf(spec!));
      }
    }
    const outside = [...imported].filter((p) => !p.startsWith('node:') && !builtinModules.includes(p) && !(p in dependencies));
    assert.deepEqual(outside, [], 'every package the compiled code imports must be a production dependency');
    assert.ok(imported.has('oidc-provider') && imported.has('knex'), 'the scan found the imports');
  });
});

// Production (what the image runs) needs Postgres; on PGlite the server runs as `docker run -e NODE_ENV=development` does.
describeEachDatabase('the compiled server and CLI', (backend) => {
  let build: string;
  let db: TestDatabase;
  before(async () => {
    build = await compiledBuild();
    // Without tables, as a first start finds it: the compiled migrations must run.
    db = await backend.create({ empty: true });
  });
  after(() => db?.drop());

  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://id.example.test',
    TRUST_PROXY: 'true',
    COOKIE_KEYS: randomBytes(32).toString('hex'),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };

  it(`starts on plain node${backend.kind === 'postgres' ? ' in production' : ''}, migrates, serves discovery, pages and static files, and stops on SIGTERM`, async () => {
    const port = await freePort();
    const issuer = backend.kind === 'postgres' ? production.ISSUER : `http://localhost:${port}`;
    const env = { ...db.env, ...(backend.kind === 'postgres' ? production : {}), PORT: String(port), HOST: '127.0.0.1' };
    const child = spawnEntry('src/main.ts', [], env, { build });
    try {
      assert.equal(await waitForListening(child), port);
      const base = `http://127.0.0.1:${port}`;
      const discovery = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
      assert.equal(discovery.issuer, issuer);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const home = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
      assert.equal(home.status, 200);
      assert.match(await home.text(), /<html/);
      const script = await fetch(`${base}/static/login.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });

  it('runs the CLI: --help, then clients add and list on the same database', async () => {
    const help = await cli(['--help'], db.env, { build });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: wallet-oidc/);
    assert.match(help.stdout, /clients/);

    const env = { ...db.env, ...(backend.kind === 'postgres' ? production : {}) };
    const add = await cli(['clients', 'add', '--name', 'Compiled', '--redirect-uri', 'https://rp.example/cb', '--json'], env, { build });
    assert.equal(add.code, 0, add.stderr);
    const { client_id: clientId } = JSON.parse(add.stdout) as { client_id: string };
    const list = await cli(['clients', 'list'], env, { build });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${clientId}\tCompiled\thttps://rp.example/cb$`, 'm'));
  });
});
