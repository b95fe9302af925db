// `npm run build`: compiles src/ and migrations/ to JavaScript (tsconfig.build.json) and copies views/ beside them,
// so the output directory runs on its own with `node <out>/src/main.js` (the views are found at <out>/views, as
// src/context.ts finds them at ./views from the sources). `--out-dir DIR` builds elsewhere (default dist/); outside
// the repository, `--link-modules` links the repository's node_modules into it so its imports resolve.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into `outDir`, which is emptied first; throws when the compiler reports an error. */
export function build(outDir: string, opts: { linkModules?: boolean } = {}): void {
  const out = path.resolve(outDir);
  // Emptied first so a deleted source leaves no stale module behind; never the repository or a folder above it.
  if (ROOT === out || !path.relative(out, ROOT).startsWith('..')) throw new Error(`refusing to empty ${out}: it holds the repository`);
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status ?? result.signal})`);
  // views/tsconfig.json only type-checks the page script; the rest is served or rendered as it is.
  fs.cpSync(path.join(ROOT, 'views'), path.join(out, 'views'), { recursive: true, filter: (src) => path.basename(src) !== 'tsconfig.json' });
  // ES modules wherever the directory is copied, even with no package.json of ours above it.
  fs.writeFileSync(path.join(out, 'package.json'), '{ "type": "module" }\n');
  if (opts.linkModules) fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'), 'dir');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { 'out-dir': { type: 'string', default: path.join(ROOT, 'dist') }, 'link-modules': { type: 'boolean', default: false } },
  });
  try {
    build(values['out-dir'], { linkModules: values['link-modules'] });
    console.log(`built ${path.relative(process.cwd(), path.resolve(values['out-dir'])) || '.'}`);
  } catch (err) {
    console.error(`build: ${(err as Error).message}`);
    process.exit(1);
  }
}
