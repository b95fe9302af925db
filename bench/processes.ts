// What the benchmark's parts share: starting the server entries and the load generator as pinned child
// processes, and reading a process's CPU time and peak memory from /proc. Percentiles and rounding.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { PROJECT_ROOT } from '../src/context.ts';

const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in these ticks.
/** Whether the server and the load generator each get a core of their own (`taskset`). */
export const canPin = os.availableParallelism() >= 2 && fs.existsSync('/usr/bin/taskset');
/** How long one load run may last at most (a run stops early, with what it completed, past it). */
export const MAX_SECONDS = process.argv.includes('--smoke') ? 60 : 120;

/** CPU time (user + system) a process has used since it started, in ms; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The most memory (RSS) a process has held since it started, in MiB. */
export function peakRssMiB(pid: number): number | null {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

/** Starts a node entry pinned to `core` and resolves its port once it prints `listening <port>`. */
export async function startNode(entry: string, core: number, env: Record<string, string>): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const args = ['--import', 'tsx', entry];
  const child = canPin
    ? spawn('taskset', ['-c', String(core), process.execPath, ...args], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buffer = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d;
      for (let i = buffer.indexOf('\n'); i !== -1; i = buffer.indexOf('\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        lines.push(line);
        const m = line.match(/^listening (\d+)$/);
        if (m) resolve(Number(m[1]));
      }
    });
  });
  return { child, port, lines };
}

export async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export interface LoadResult {
  completed: number;
  errors: number;
  errorSamples: string[];
  /** Each completed login's (or attempt's) whole time, and its verify step's, in ms. */
  latencies: number[];
  verifyLatencies: number[];
  wallMs: number;
  cpuMs: number;
}

/** Runs bench/loadgen.ts (pinned to core 1) with `options` and returns what it measured. */
export function runLoad(options: Record<string, unknown>): Promise<LoadResult> {
  const args = ['--import', 'tsx', 'bench/loadgen.ts', JSON.stringify({ maxSeconds: MAX_SECONDS, ...options })];
  const child = canPin ? spawn('taskset', ['-c', '1', process.execPath, ...args], { cwd: PROJECT_ROOT }) : spawn(process.execPath, args, { cwd: PROJECT_ROOT });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => process.stderr.write(d));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`loadgen exited with ${code}`)))),
  );
}

/** The p-th percentile of ascending `sorted` (nearest rank). */
export const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
