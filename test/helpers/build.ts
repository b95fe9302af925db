// A build of the sources (scripts/build.ts) into a temporary directory, made once per test process and run with plain
// `node`: the compiled server and CLI as the image runs them, without touching the repository's dist/.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from '../../scripts/build.ts';

let made: Promise<string> | undefined;

/** The build directory (holding src/, migrations/, views/ and a link to node_modules); built on first use. */
export function compiledBuild(): Promise<string> {
  made ??= fs.mkdtemp(path.join(os.tmpdir(), 'wallet-oidc-build-')).then((dir) => {
    build(dir, { linkModules: true });
    return dir;
  });
  return made;
}

export async function removeCompiledBuild(): Promise<void> {
  if (!made) return;
  const dir = await made.catch(() => undefined);
  made = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
