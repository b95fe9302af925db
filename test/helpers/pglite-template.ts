// One initialized PGlite data directory per set of migrations, copied for each test database: a fresh directory
// costs PGlite an initdb (7-10 s of CPU), a copy a fraction of a second.
//
// node --test runs each file in its own process, several at once, so the template is built where any of them
// finds it: a directory under the system temp dir named by a hash of what shapes it (the migrations, the knex
// factory, the PGlite and knex versions). A process that finds none builds one beside it and renames it into
// place; rename is atomic, so the name only ever holds a whole template, and a process that loses the race
// uses the winner's. It stays for later runs; a change to any of its inputs gives a new name.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb, migrate } from '../../src/db/knex.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The template's files and sizes, written last: a template whose files no longer match (a temp-dir cleaner took some) is rebuilt. */
const MANIFEST = 'manifest.json';

/** DATA_DIR values to copy, both initialized by PGlite: `empty` has no tables yet, `migrated` has every migration applied. */
export interface PgliteTemplate {
  empty: string;
  migrated: string;
}

/** The installed version of a package, found from its entry point (not every package exports its package.json). */
function installedVersion(name: string): string {
  let dir = path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve(name));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the installed version of ${name}`);
    dir = path.dirname(dir);
  }
}

/** A hash of everything that decides the template's content. */
function templateKey(): string {
  const hash = createHash('sha256');
  const migrations = path.join(ROOT, 'migrations');
  for (const name of fs.readdirSync(migrations).sort()) {
    if (name.endsWith('.ts')) hash.update(`${name}\0`).update(fs.readFileSync(path.join(migrations, name)));
  }
  hash.update(fs.readFileSync(path.join(ROOT, 'src/db/knex.ts')));
  for (const name of ['@electric-sql/pglite', 'knex-pglite', 'knex']) hash.update(`\0${name}@${installedVersion(name)}`);
  return hash.digest('hex').slice(0, 16);
}

/** Every file under `dir` (relative path → size), the manifest itself left out. */
function listFiles(dir: string): Record<string, number> {
  const files: Record<string, number> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full);
    if (rel !== MANIFEST) files[rel] = fs.statSync(full).size;
  }
  return files;
}

function isWhole(dir: string): boolean {
  try {
    const expected = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as Record<string, number>;
    const actual = listFiles(dir);
    const names = Object.keys(expected);
    return names.length === Object.keys(actual).length && names.every((name) => actual[name] === expected[name]);
  } catch {
    return false;
  }
}

/** Opens a data directory exactly as the server does (src/db/knex.ts), optionally migrates it, and closes it cleanly. */
async function initialize(dataDir: string, { migrated }: { migrated: boolean }): Promise<void> {
  const db = createDb({ kind: 'pglite', dataDir });
  try {
    if (migrated) await migrate(db);
    else await db.raw('select 1');
  } finally {
    await db.destroy();
  }
}

async function build(target: string): Promise<void> {
  const work = fs.mkdtempSync(`${target}.build-`);
  try {
    await initialize(path.join(work, 'empty'), { migrated: false });
    fs.cpSync(path.join(work, 'empty'), path.join(work, 'migrated'), { recursive: true });
    await initialize(path.join(work, 'migrated'), { migrated: true });
    fs.writeFileSync(path.join(work, MANIFEST), JSON.stringify(listFiles(work)));
    try {
      fs.renameSync(work, target);
    } catch (err) {
      // Another process put its template there first: use that one.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function findOrBuild(): Promise<PgliteTemplate> {
  // Per user too: the directory is private to whoever made it.
  const target = path.join(os.tmpdir(), `wallet-oidc-pglite-template-${process.getuid?.() ?? 'user'}-${templateKey()}`);
  if (fs.existsSync(target) && !isWhole(target)) {
    // Moved aside first (atomic), so no process copies from a half-deleted directory.
    const aside = `${target}.broken-${randomBytes(4).toString('hex')}`;
    try {
      fs.renameSync(target, aside);
      fs.rmSync(aside, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // another process moved it
    }
  }
  if (!fs.existsSync(target)) await build(target);
  return { empty: path.join(target, 'empty'), migrated: path.join(target, 'migrated') };
}

let template: Promise<PgliteTemplate> | undefined;

/** The template for this checkout, built on first use in this process if no process has built it yet. */
export function pgliteTemplate(): Promise<PgliteTemplate> {
  if (!template) {
    template = findOrBuild();
    template.catch(() => (template = undefined)); // the next caller tries again
  }
  return template;
}
