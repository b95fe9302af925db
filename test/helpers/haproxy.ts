// Debian's HAProxy as a child process in front of server processes: round-robin per request, health checks on
// /readyz, and its runtime socket to read which backends are UP. Used by the scale-out test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './process.ts';

/** Debian installs it in /usr/sbin, which a non-root PATH may lack. */
const HAPROXY = ['haproxy', '/usr/sbin/haproxy'].find((bin) => spawnSync(bin, ['-v'], { stdio: 'ignore' }).status === 0);

/** Whether `haproxy` is installed (.ci/run installs it). */
export const haproxyInstalled = (): boolean => HAPROXY !== undefined;

/** The header a test sets on each request so HAProxy's log line names it (requests()). */
export const REQUEST_ID_HEADER = 'x-test-request';

/** A request as HAProxy logged it: the server it chose, the status it sent (-1: none), its termination state (`SH--`: the server aborted). */
export interface Logged {
  server: string;
  status: number;
  termination: string;
}

export interface Haproxy {
  /** The front end: http://127.0.0.1:<port>. */
  url: string;
  /** Backend names, in the order of the ports given: s0, s1, … */
  servers: string[];
  /** Each backend as HAProxy sees it now. */
  stat(): Promise<Record<string, ServerStat>>;
  /** Polls until `server` is in `state` (UP or DOWN); fails after a generous deadline with what HAProxy printed. */
  waitFor(server: string, state: 'UP' | 'DOWN', ceilingMs?: number): Promise<void>;
  /** Polls until HAProxy has a request in flight with `server`, so a fault then meets one. */
  waitForBusy(server: string, ceilingMs?: number): Promise<void>;
  /** What HAProxy printed (its alerts: a server going DOWN names the reason). */
  output(): string;
  /** Each logged request that carried REQUEST_ID_HEADER, by that id. A request is logged once it has ended. */
  requests(): Map<string, Logged>;
  /** Polls until every one of `ids` has its log line (HAProxy writes it as the request ends, maybe after the client saw the answer). */
  waitForLogged(ids: string[], ceilingMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The configuration, with why each line is there. `option httpclose` closes both sides after each answer, so every
 * request is balanced on its own, and a request lost with its server is answered 502 and logged (on a reused
 * keep-alive client connection HAProxy would close it silently instead, and log nothing). `retries` with
 * `option redispatch` re-sends a request whose connection was refused to another server (nothing reached the first
 * one); `retry-on` stays at its default (connection failures only),
 * so a request that reached a server and got no answer is never replayed: it fails, and the test counts it.
 */
function config(front: number, backends: number[], socket: string): string {
  return `global
  stats socket ${socket} mode 600 level admin
  maxconn 512
  # One line per request: the test's request id, the server it went to, the status, how it ended (see requests()).
  log stderr format raw daemon

defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  # A slow check answer on a loaded machine is not a failure: only a wrong status or a refused connection is.
  timeout check 30s
  retries 3
  option redispatch 1
  option httpclose
  option forwardfor
  log global

frontend front
  bind 127.0.0.1:${front}
  capture request header ${REQUEST_ID_HEADER} len 32
  log-format "request %[capture.req.hdr(0)] %s %ST %tsc"
  default_backend servers

backend servers
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
${backends.map((port, i) => `  server s${i} 127.0.0.1:${port} check inter 200ms fall 1 rise 1`).join('\n')}
`;
}

export interface ServerStat {
  /** `UP`, `DOWN`, `UP 1/2`, `MAINT`… */
  status: string;
  /** Requests HAProxy has with it now (sessions). */
  sessions: number;
}

/** `show stat` over the runtime socket: backend name → its status and current sessions. */
async function showStat(socket: string): Promise<Record<string, ServerStat>> {
  const csv = await new Promise<string>((resolve, reject) => {
    let out = '';
    const conn = net.connect(socket, () => conn.end('show stat\n'));
    conn.setEncoding('utf8').on('data', (d: string) => (out += d));
    conn.on('end', () => resolve(out)).on('error', reject);
  });
  const [header, ...rows] = csv.trim().split('\n');
  const columns = header!.replace(/^# /, '').split(',');
  const [name, status, sessions] = [columns.indexOf('svname'), columns.indexOf('status'), columns.indexOf('scur')];
  return Object.fromEntries(rows.map((row) => row.split(',')).map((cells) => [cells[name]!, { status: cells[status]!, sessions: Number(cells[sessions]) }]));
}

/** Starts `haproxy -db` (foreground) in front of `backends`; resolves once its runtime socket answers. */
export async function startHaproxy(backends: number[], ceilingMs = 60_000): Promise<Haproxy> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wallet-oidc-haproxy-'));
  const socket = path.join(dir, 'admin.sock');
  const front = await freePort();
  await fs.writeFile(path.join(dir, 'haproxy.cfg'), config(front, backends, socket));
  const child: ChildProcess = spawn(HAPROXY ?? 'haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const servers = backends.map((_, i) => `s${i}`);
  const stat = () => showStat(socket);

  const poll = async (ready: () => Promise<boolean>, what: string | (() => string), ceiling: number) => {
    const deadline = Date.now() + ceiling;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}):\n${output}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${typeof what === 'string' ? what : what()} after ${ceiling / 1000} s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 5)); // a poll interval, not a wait for something to happen
    }
  };
  const haproxy: Haproxy = {
    url: `http://127.0.0.1:${front}`,
    servers,
    stat,
    waitFor: (server, state, ceiling = 120_000) =>
      poll(async () => (await stat())[server]?.status.split(' ')[0] === state, `haproxy did not see ${server} ${state}`, ceiling),
    waitForBusy: (server, ceiling = 120_000) => poll(async () => ((await stat())[server]?.sessions ?? 0) > 0, `haproxy sent ${server} nothing`, ceiling),
    output: () => output,
    requests: () =>
      new Map(
        [...output.matchAll(/^request (\S+) (\S+) (-?\d+) (\S+)$/gm)].map(([, id, server, status, termination]) => [
          id!,
          { server: server!, status: Number(status), termination: termination! },
        ]),
      ),
    waitForLogged: (ids, ceiling = 60_000) => {
      let missing = ids;
      const allLogged = async () => {
        const logged = haproxy.requests();
        missing = missing.filter((id) => !logged.has(id));
        return missing.length === 0;
      };
      return poll(allLogged, () => `haproxy did not log requests ${missing.join(', ')}`, ceiling);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await poll(async () => Object.keys(await stat()).length > 0, 'haproxy did not answer on its runtime socket', ceilingMs);
  } catch (err) {
    await haproxy.stop();
    throw err;
  }
  return haproxy;
}
