// The CLI's side of the admin socket: hands its arguments to the process that holds the data directory.
import net from 'node:net';
import { adminPaths, isCommandResult, readMessages, writeMessage, type CommandResult } from './protocol.ts';

/**
 * Runs a command in the process that holds `dataDir` and returns its answer. Undefined when nobody answered:
 * the holder stopped before running it (or had already), so the directory may be free now and the caller tries
 * again. `onQueued` hears who holds it when the command must wait (the holder is starting, or is a CLI command).
 */
export function sendCommand(dataDir: string, argv: string[], onQueued: (holder: string) => void): Promise<CommandResult | undefined> {
  const socket = net.connect(adminPaths(dataDir).socket);
  return new Promise((resolve, reject) => {
    let result: CommandResult | undefined;
    socket.once('connect', () => writeMessage(socket, { argv }));
    readMessages(socket, (message) => {
      if (isCommandResult(message)) result = message;
      const queued = (message as { queued?: unknown } | null)?.queued;
      if (typeof queued === 'string') onQueued(queued);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT' || err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      reject(err);
    });
    socket.on('close', () => resolve(result));
  });
}
