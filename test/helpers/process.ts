// Runs the project's entry points (server, CLI) as child processes, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Env for a child: the test's own, minus anything that would pick another database or config. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const key of ['DATABASE_URL', 'DATA_DIR', 'NODE_ENV', 'ISSUER', 'PORT', 'COOKIE_KEYS', 'ENCRYPTION_KEY', 'LOG_LEVEL']) delete base[key];
  return { ...base, ...env };
}

export function spawnEntry(entry: 'src/main.ts' | 'src/cli/index.ts', args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function run(entry: 'src/main.ts' | 'src/cli/index.ts', args: string[], env: Record<string, string>): Promise<RunResult> {
  const child = spawnEntry(entry, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export const cli = (args: string[], env: Record<string, string>) => run('src/cli/index.ts', args, env);
