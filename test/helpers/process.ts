// Runs the project's entry points (server, CLI) as child processes, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
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
  for (const key of ['DATABASE_URL', 'DATA_DIR', 'NODE_ENV', 'ISSUER', 'PORT', 'COOKIE_KEYS', 'ENCRYPTION_KEY', 'ENCRYPTION_KEY_PREVIOUS', 'LOG_LEVEL'])
    delete base[key];
  return { ...base, ...env };
}

export type Entry = 'src/main.ts' | 'src/cli/index.ts';

/** Where an entry comes from: the sources through tsx (`npm start`), or the compiled JavaScript of a build directory (the image). */
export interface From {
  build?: string;
}

/** The argv that runs `entry`: `--import tsx src/….ts`, or `<build>/src/….js` with no TypeScript loader at all. */
export function entryArgs(entry: Entry, from: From = {}): string[] {
  return from.build ? [path.join(from.build, entry.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', entry];
}

export function spawnEntry(entry: Entry, args: string[], env: Record<string, string>, from: From = {}): ChildProcess {
  return spawn(process.execPath, [...entryArgs(entry, from), ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs an entry point to its end. One that is still running after `ceilingMs` (generous: a loaded machine is slow) is killed, and the test fails. */
export function run(entry: Entry, args: string[], env: Record<string, string>, from: From = {}, ceilingMs = 180_000): Promise<RunResult> {
  const child = spawnEntry(entry, args, env, from);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} ${args.join(' ')} was still running after ${ceilingMs / 1000} s:\n${stdout}${stderr}`));
    }, ceilingMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const cli = (args: string[], env: Record<string, string>, from: From = {}) => run('src/cli/index.ts', args, env, from);

/** A port nothing listens on now, for a child that must be given its port (with PORT=0 the default issuer would say port 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Waits for the server's "wallet-oidc listening" log line and returns the port it names. Fails as soon as the
 * child exits, or after `ceilingMs`: generous, so a loaded machine is slow but not red. Errors carry what it printed.
 */
export function waitForListening(child: ChildProcess, ceilingMs = 180_000): Promise<number> {
  const { stdout, stderr } = child as { stdout: Readable; stderr: Readable };
  let output = '';
  let partial = '';
  const cleanups: (() => void)[] = [];
  return new Promise<number>((resolve, reject) => {
    const onStdout = (d: Buffer) => {
      output += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop()!; // an unfinished line waits for the rest
      for (const line of lines) {
        const entry = parseJson(line);
        if (entry?.msg === 'wallet-oidc listening' && typeof entry.port === 'number') resolve(entry.port);
      }
    };
    const onStderr = (d: Buffer) => (output += d);
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`the server exited (${signal ?? `code ${code}`}) before listening:\n${output}`));
    const timer = setTimeout(() => reject(new Error(`the server was not listening after ${ceilingMs / 1000} s:\n${output}`)), ceilingMs);
    stdout.on('data', onStdout);
    stderr.on('data', onStderr);
    child.once('exit', onExit);
    cleanups.push(
      () => clearTimeout(timer),
      () => stdout.off('data', onStdout),
      () => stderr.off('data', onStderr),
      () => child.off('exit', onExit),
    );
  }).finally(() => cleanups.forEach((cleanup) => cleanup()));
}

function parseJson(line: string): { msg?: unknown; port?: unknown } | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined; // not a log line
  }
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** The ISSUER it was given: `env.ISSUER` (a proxy in front), or http://127.0.0.1:<port>. */
  issuer: string;
  /** What it has printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then its exit code once it has exited. */
  stop(): Promise<number | null>;
}

/**
 * `npm start` (or a build's compiled server) as a user runs it, on `env`'s database, listening on 127.0.0.1 at `port`
 * (a free one by default; the same one again to restart an instance behind a load balancer); resolves once it listens.
 */
export async function startServerProcess(env: Record<string, string>, from: From = {}, port?: number): Promise<ServerProcess> {
  port ??= await freePort();
  const issuer = env.ISSUER ?? `http://127.0.0.1:${port}`;
  const child = spawnEntry('src/main.ts', [], { ...env, PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer }, from);
  let output = '';
  // Always drained: a child whose pipe fills up blocks on its next log line.
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitForListening(child);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    port,
    issuer,
    output: () => output,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
