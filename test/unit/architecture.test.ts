// The import rule of docs/architecture.md, checked on every file under src/: each layer imports only
// the layers below it, adapters (db/, memory/) only the ports they implement, and nothing imports the
// entry points. A new import that breaks the rule fails here with the file and the import.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/process.ts';

const SRC = path.join(ROOT, 'src');

/** The layer of a module, by its path relative to src/ (a port file is named for its owner's ports). */
function layerOf(rel: string): string {
  if (['errors.ts', 'clock.ts', 'logger.ts', 'observer.ts', 'env.ts', 'request-context.ts', 'changes.ts'].includes(rel)) return 'core';
  if (rel === 'context.ts') return 'context';
  if (rel === 'main.ts' || rel.startsWith('cli/')) return 'entry';
  if (rel.startsWith('..')) return rel.includes('migrations/') ? 'migrations' : 'outside';
  const [dir, file] = rel.split('/');
  if (file === 'ports.ts') return `${dir}/ports`;
  if (rel === 'oidc/keys.ts') return 'oidc/keys';
  return dir!;
}

const PORTS = ['siwe/ports', 'oidc/ports', 'http/ports', 'ens/ports', 'oidc/keys'];
/** Who may import whom (value imports). Every layer may import itself and its own ports. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  config: ['core'],
  siwe: ['core', 'config'],
  oidc: ['core', 'config', 'siwe/ports'],
  http: ['core', 'config', 'siwe', 'siwe/ports', 'oidc', 'oidc/ports', 'oidc/keys'],
  ens: ['core', 'config', 'oidc/ports'],
  db: ['core', 'config', 'migrations', ...PORTS],
  memory: ['core', ...PORTS],
  admin: ['core'],
  metrics: ['core'],
  context: ['core', 'config', 'siwe', 'oidc', 'http', 'ens', 'db', 'memory', 'admin', 'metrics', ...PORTS],
  entry: ['core', 'config', 'siwe', 'oidc', 'http', 'db', 'admin', 'metrics', 'context', ...PORTS],
};
/** Type-only imports allowed on top: the handlers receive the context, and memory/ implements its Stores. */
const TYPE_ONLY: Record<string, string[]> = { http: ['context'], memory: ['context'], metrics: ['context'] };

function sources(dir = SRC): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sources()) {
    const rel = path.relative(SRC, file);
    const from = layerOf(rel);
    const own = from.split('/')[0]!;
    const text = fs.readFileSync(file, 'utf8');
    for (const [statement, spec] of text.matchAll(/^import\s[^;]*?from\s+'(\.[^']+)';/gms)) {
      const to = layerOf(path.relative(SRC, path.resolve(path.dirname(file), spec!)));
      const typeOnly = /^import\s+type\s/.test(statement);
      const ok =
        to === from ||
        to.split('/')[0] === own ||
        (ALLOWED[from] ?? ALLOWED[own])!.includes(to) ||
        (typeOnly && (TYPE_ONLY[from] ?? TYPE_ONLY[own])?.includes(to));
      if (!ok) found.push(`${rel} (${from}) imports ${spec} (${to})`);
    }
  }
  return found;
}

describe('the import rule', () => {
  it('holds for every module under src/', () => {
    assert.deepEqual(violations(), []);
  });

  it('knows every directory under src/ (a new one needs a place in the rule)', () => {
    const layers = new Set(sources().map((f) => layerOf(path.relative(SRC, f)).split('/')[0]!));
    for (const layer of layers) assert.ok(layer in ALLOWED, `src layer ${layer} is not in the rule`);
  });
});

/** Every module and package a file loads before its code runs: its static value imports, followed through src/ and migrations/. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [statement, spec] of fs.readFileSync(file, 'utf8').matchAll(/^import\s[^;]*?from\s+'([^']+)';|^import\s+'([^']+)';/gms)) {
      const target = spec ?? statement.match(/'([^']+)'/)![1]!;
      if (/^import\s+type\s/.test(statement)) continue;
      if (target.startsWith('.')) visit(path.resolve(path.dirname(file), target));
      else seen.add(target);
    }
  };
  visit(entry);
  return seen;
}

describe('the CLI entry point', () => {
  it('loads neither the provider, the web app nor the database before a command needs them (fast --help)', () => {
    const loaded = [...staticClosure(path.join(SRC, 'cli/index.ts'))].map((m) => (m.startsWith(ROOT) ? path.relative(ROOT, m) : m));
    const heavy = loaded.filter(
      (m) => ['oidc-provider', 'koa', 'knex', 'knex-pglite', '@electric-sql/pglite', 'pg'].includes(m) || /^src\/(context|http\/|oidc\/provider)/.test(m),
    );
    assert.deepEqual(heavy, []);
  });
});
