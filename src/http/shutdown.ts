// The HTTP server's graceful shutdown: readiness flips at once, the listener closes after an optional delay,
// keep-alive connections close after their current answer, in-flight requests finish, then the server is closed.
import type { Server, ServerResponse } from 'node:http';

/** What the app reads (`/readyz`) and the entry point drives. */
export interface Shutdown {
  /** True from the signal on: `/readyz` answers 503 `shutting_down` so load balancers stop sending requests. */
  readonly draining: boolean;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Tracks `server`'s requests; call once, before it serves any. */
  watch(server: Server): void;
  /**
   * Flips readiness, keeps accepting for `delayMs` (a load balancer polling `/readyz` notices meanwhile), then closes
   * the listener and resolves once the last connection is gone. No deadline here: the caller owns the forced exit.
   */
  drain(delayMs: number): Promise<void>;
}

/*
 * http-terminator (the npm package) does the same with its own socket bookkeeping; Node ≥ 18.2 tracks connections
 * itself (closeIdleConnections), so these few lines need no dependency.
 */
export function createShutdown(): Shutdown {
  let draining = false;
  let server: Server | undefined;
  const active = new Set<ServerResponse>();

  // An answer sent with Connection: close ends its connection once written (Node ends the socket after it),
  // so a client or proxy never sends its next request on a connection that is about to be cut.
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  // Once the listener is closed: idle keep-alive connections go at once; with no request in flight, so do connections
  // that never sent one (a browser's preconnect, a proxy's spare socket), which Node does not count as idle and would
  // otherwise keep the server open until its headers timeout, past SHUTDOWN_TIMEOUT (a forced exit with code 1).
  const closeUnused = (s: Server) => (active.size ? s.closeIdleConnections() : s.closeAllConnections());

  return {
    get draining() {
      return draining;
    },
    get inFlight() {
      return active.size;
    },
    watch(s) {
      if (server) throw new Error('createShutdown: watch() was called twice');
      server = s;
      // Prepended: before the app's own listener writes anything.
      s.prependListener('request', (_req, res: ServerResponse) => {
        active.add(res);
        if (draining) closeAfter(res);
        res.once('close', () => {
          active.delete(res);
          // An answer whose headers went out before the drain began left its connection open and idle: close it now,
          // between requests, rather than waiting for the keep-alive timeout.
          if (draining && !s.listening) closeUnused(s);
        });
      });
    },
    async drain(delayMs) {
      if (!server) throw new Error('createShutdown: drain() before watch()');
      if (draining) throw new Error('createShutdown: drain() was called twice');
      draining = true;
      for (const res of active) closeAfter(res);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const s = server;
      await new Promise<void>((resolve) => {
        // Stops accepting; Node (≥ 19) also closes the idle keep-alive connections. 'close' waits for the rest.
        s.close(() => resolve());
        closeUnused(s);
      });
    },
  };
}
