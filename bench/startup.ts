// `npm run bench:startup`: start time and idle memory of the server, through tsx (`npm start`) and compiled (the
// image), on PGlite: a first start (a new data directory: PGlite's initdb, migrations, the first signing key) and a
// restart; and the CLI's `--help` and `clients list`. Prints medians; never run by `npm test`, asserts nothing.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from '../scripts/build.ts';
import { freePort, spawnEntry, waitForListening, type Entry, type From } from '../test/helpers/process.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** How long a started server is left alone before its memory is read: "idle" is after start-up's garbage settles. */
const IDLE_MS = 3000;
const KEYS = { COOKIE_KEYS: randomBytes(32).toString('hex'), ENCRYPTION_KEY: randomBytes(32).toString('hex') };

type Mode = { name: 'tsx' | 'compiled'; from: From };
type Sample = Record<string, number>;

const CLK_TCK = 100; // Linux USER_HZ: /proc times are in these ticks.

/** CPU seconds (user + system) of a process; with `children`, of the children it has waited for (/proc/self). */
function cpuSeconds(pid: number | 'self', children = false): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [user, system] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return (Number(user) + Number(system)) / CLK_TCK;
}

function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Seconds from spawn to the "listening" log line, the CPU seconds spent by then, and the idle RSS after it. */
async function startServer(mode: Mode, dataDir: string): Promise<{ seconds: number; cpu: number; rss: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnEntry('src/main.ts', [], { ...KEYS, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' }, mode.from);
  try {
    await waitForListening(child);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(child.pid!);
    await sleep(IDLE_MS);
    return { seconds, cpu, rss: rssMiB(child.pid!) };
  } finally {
    await stop(child);
  }
}

/** Seconds a CLI command takes, start to exit, and the CPU seconds it used. */
async function timeCli(mode: Mode, args: string[], dataDir: string): Promise<{ seconds: number; cpu: number }> {
  const started = performance.now();
  const cpuBefore = cpuSeconds('self', true);
  const child = spawnEntry('src/cli/index.ts' satisfies Entry, args, { ...KEYS, DATA_DIR: dataDir }, mode.from);
  child.stdout!.resume();
  child.stderr!.resume();
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`cli ${args.join(' ')} exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, cpu: cpuSeconds('self', true) - cpuBefore };
}

async function measure(mode: Mode, scratch: string, round: number): Promise<Sample> {
  const dataDir = path.join(scratch, `data-${mode.name}-${round}`);
  const first = await startServer(mode, dataDir);
  const restart = await startServer(mode, dataDir);
  const help = await timeCli(mode, ['--help'], dataDir);
  const list = await timeCli(mode, ['clients', 'list'], dataDir);
  return {
    'first start: to listening (s)': first.seconds,
    'first start: CPU (s)': first.cpu,
    'first start: idle RSS (MiB)': first.rss,
    'restart: to listening (s)': restart.seconds,
    'restart: CPU (s)': restart.cpu,
    'restart: idle RSS (MiB)': restart.rss,
    'cli --help (s)': help.seconds,
    'cli --help: CPU (s)': help.cpu,
    'cli clients list (s)': list.seconds,
    'cli clients list: CPU (s)': list.cpu,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-oidc-startup-'));
  try {
    const buildStarted = performance.now();
    build(path.join(scratch, 'build'), { linkModules: true });
    console.log(`npm run build: ${((performance.now() - buildStarted) / 1000).toFixed(1)} s`);
    const modes: Mode[] = [
      { name: 'tsx', from: {} },
      { name: 'compiled', from: { build: path.join(scratch, 'build') } },
    ];
    const samples: Record<string, Sample[]> = { tsx: [], compiled: [] };
    // Alternating, so a machine that gets busier part-way through weighs on both.
    for (let round = 0; round < ROUNDS; round++) for (const mode of modes) samples[mode.name]!.push(await measure(mode, scratch, round));

    console.log(`\nmedian of ${ROUNDS} rounds, Node ${process.versions.node}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
    console.log(`| | tsx (npm start) | compiled (node dist/src/main.js) |\n|---|---|---|`);
    for (const key of Object.keys(samples.tsx![0]!)) {
      const cell = (name: string) => median(samples[name]!.map((s) => s[key]!)).toFixed(key.includes('RSS') ? 0 : 2);
      console.log(`| ${key} | ${cell('tsx')} | ${cell('compiled')} |`);
    }
    fs.mkdirSync('bench/results', { recursive: true });
    const file = path.join('bench/results', `startup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ node: process.versions.node, rounds: ROUNDS, samples }, null, 2));
    console.log(`\nsamples: ${file}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
