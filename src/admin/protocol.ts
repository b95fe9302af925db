// The admin socket's place and wire format: one JSON object a line each way. A CLI sends its arguments; the
// process that holds the data directory runs them and answers the command's stdout, stderr and exit code.
import fs from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import { ConfigError } from '../errors.ts';

/** Far above any command line (a --metadata object is a few kB); a longer line is refused, not buffered. */
export const MAX_LINE_BYTES = 1 << 20;
/** sun_path holds 104 bytes on macOS and 108 on Linux, with the closing NUL. */
const MAX_SOCKET_PATH_BYTES = 103;

export interface CommandRequest {
  argv: string[];
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Sent at once when the holder cannot run a command yet (it is starting, or is itself a CLI command): who it is. */
export interface Queued {
  queued: string;
}

export interface AdminPaths {
  /** DATA_DIR/admin: mode 0700, so only the user who owns the data reaches the socket. */
  dir: string;
  socket: string;
  /** Who holds the directory (pid, host, start, command), for the message a refused process prints. */
  holder: string;
  /** proper-lockfile's mutex around taking the directory over. */
  mutex: string;
}

export function adminPaths(dataDir: string): AdminPaths {
  const dir = path.join(path.resolve(dataDir), 'admin');
  const paths = { dir, socket: path.join(dir, 'socket'), holder: path.join(dir, 'holder.json'), mutex: path.join(dir, 'lock') };
  const length = Buffer.byteLength(paths.socket);
  if (length > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError([
      `DATA_DIR: too long for its admin socket (${paths.socket} is ${length} bytes; sockets allow ${MAX_SOCKET_PATH_BYTES}): use a shorter path`,
    ]);
  }
  return paths;
}

/**
 * Creates DATA_DIR/admin, or checks the one found: a directory (not a link), ours, closed to group and others.
 * The socket inside answers whoever can connect to it, so nobody else may reach it, or plant one for our CLI.
 */
export async function prepareAdminDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory()) throw new ConfigError([`DATA_DIR: ${dir} must be a directory`]);
  if (uid !== undefined && stat.uid !== uid) {
    throw new ConfigError([`DATA_DIR: ${dir} belongs to user ${stat.uid}, not to this process's user ${uid}: run as the user who owns the data`]);
  }
  if ((stat.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
}

export function writeMessage(socket: net.Socket, message: CommandRequest | CommandResult | Queued): void {
  socket.write(`${JSON.stringify(message)}\n`);
}

/** Calls `onMessage` with each line parsed as JSON; a line that is too long or not JSON ends the connection. */
export function readMessages(socket: net.Socket, onMessage: (message: unknown) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        socket.destroy();
        return;
      }
      onMessage(message);
    }
    if (Buffer.byteLength(buffered) > MAX_LINE_BYTES) socket.destroy();
  });
}

export function isCommandRequest(message: unknown): message is CommandRequest {
  const argv = (message as CommandRequest | null)?.argv;
  return Array.isArray(argv) && argv.every((arg) => typeof arg === 'string');
}

export function isCommandResult(message: unknown): message is CommandResult {
  const m = message as CommandResult | null;
  return typeof m?.stdout === 'string' && typeof m.stderr === 'string' && Number.isInteger(m.exitCode);
}
