// One process at a time on a PGlite data directory. The lock is the admin socket: a process holds the directory
// while it listens on DATA_DIR/admin/socket. Whether anyone still listens there is the kernel's answer, not a
// timestamp: a killed holder's socket refuses connections at once (its lock is stale, and taken over), and a
// live holder, however busy its event loop, is never taken for dead. Taking a dead holder's socket over
// (unlink, listen) happens under a short proper-lockfile mutex, so two starting processes never both do it.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { DataDirLockedError } from '../errors.ts';
import { adminPaths, isCommandRequest, prepareAdminDir, readMessages, writeMessage, type CommandResult } from './protocol.ts';

export type CommandHandler = (argv: string[]) => Promise<CommandResult>;

export interface DataDirLock {
  socketPath: string;
  /** Runs the commands sent over the socket from now on, those that were waiting first. */
  serve(handler: CommandHandler): void;
  /** Takes no more commands and waits for those running; the directory stays locked. */
  drain(): Promise<void>;
  /** Unlocks: the socket goes; a command still waiting sees its connection close, and its CLI tries again. */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  hostname: string;
  startedAt: string;
  command: string;
}

const thisProcess = (): Holder => ({
  pid: process.pid,
  hostname: os.hostname(),
  startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  command: process.argv.slice(1).join(' ').slice(0, 300),
});

export const describeHolder = (h: Holder): string => `pid ${h.pid} on ${h.hostname}, started ${h.startedAt}: ${h.command}`;

async function readHolder(file: string): Promise<string> {
  try {
    return describeHolder(JSON.parse(await fs.readFile(file, 'utf8')) as Holder);
  } catch {
    return 'a process that did not say who it is';
  }
}

/** Whether a process listens on the socket. Only "refused" and "no such file" say nobody does. */
function listening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

function listen(server: net.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => (server.off('error', reject), resolve()));
  });
}

/** Takes the data directory, or throws DataDirLockedError naming the live process that holds it. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const paths = adminPaths(dataDir);
  await prepareAdminDir(paths.dir);
  let unlock: () => Promise<void>;
  try {
    // Held for milliseconds; stale after 10 s, should a process die inside it.
    unlock = await lockfile.lock(paths.dir, {
      lockfilePath: paths.mutex,
      realpath: false,
      stale: 10_000,
      retries: { retries: 40, minTimeout: 25, maxTimeout: 500 },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(path.resolve(dataDir), 'another process is taking it now');
    throw err;
  }
  try {
    const server = net.createServer();
    for (;;) {
      try {
        await listen(server, paths.socket);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
      if (await listening(paths.socket)) throw new DataDirLockedError(path.resolve(dataDir), await readHolder(paths.holder));
      // A killed holder's socket: nobody listens on it any more.
      await fs.rm(paths.socket, { force: true });
    }
    try {
      await fs.chmod(paths.socket, 0o600);
      await fs.writeFile(paths.holder, JSON.stringify(thisProcess()), { mode: 0o600 });
    } catch (err) {
      server.close();
      throw err;
    }
    return createLock(server, paths.socket);
  } finally {
    await unlock();
  }
}

function createLock(server: net.Server, socketPath: string): DataDirLock {
  const connections = new Set<net.Socket>();
  const waiting: { socket: net.Socket; argv: string[] }[] = [];
  const running = new Set<Promise<void>>();
  let handler: CommandHandler | undefined;
  let draining = false;

  const run = (socket: net.Socket, argv: string[], serve: CommandHandler) => {
    const done: Promise<void> = serve(argv)
      .catch((err: unknown) => ({ stdout: '', stderr: `wallet-oidc: ${String(err)}\n`, exitCode: 1 }))
      .then((result) => void socket.end(`${JSON.stringify(result)}\n`))
      .finally(() => running.delete(done));
    running.add(done);
  };

  server.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy()); // a CLI that went away: nothing to tell it
    let asked = false;
    readMessages(socket, (message) => {
      // One command a connection: its answer ends it.
      if (asked || !isCommandRequest(message)) return void socket.destroy();
      asked = true;
      if (handler && !draining) return run(socket, message.argv, handler);
      waiting.push({ socket, argv: message.argv });
      writeMessage(socket, { queued: describeHolder(thisProcess()) });
    });
  });

  return {
    socketPath,
    serve(serve) {
      handler = serve;
      for (const { socket, argv } of waiting.splice(0)) if (!socket.destroyed) run(socket, argv, serve);
    },
    async drain() {
      draining = true;
      await Promise.all(running);
    },
    async release() {
      draining = true;
      // Closing removes the socket file before the descriptor, so the path never names a dead socket of ours.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroy();
      await closed;
    },
  };
}
