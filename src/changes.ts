// The change feed: what the CLI changed (a client, an account, the signing keys), announced to every running
// instance so each drops what it keeps in memory. This file holds the port and its in-process form; the
// Postgres form (db/changes.ts) carries announcements between processes and dispatches them through it.

/** What changed: a client's metadata or secret, an account's disabled state, the signing keys. */
export type ChangeKind = 'clients' | 'accounts' | 'keys';

/** `key` names the thing that changed (a client id, an account's sub); absent: every thing of that kind. */
export type ChangeListener = (key: string | undefined) => void;

export interface ChangeFeed {
  /**
   * Announces a change, after or inside the transaction that made it (on Postgres it then becomes
   * visible at that commit). Listeners must be idempotent: an announcement may arrive twice.
   */
  publish(kind: ChangeKind, key?: string): Promise<void>;
  /** Calls `listener` for each change of `kind` announced from now on; returns the function that stops it. */
  on(kind: ChangeKind, listener: ChangeListener): () => void;
  /** Starts receiving from other processes (the server's context; a CLI process only publishes). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The listeners of one process, by kind; a listener that throws is reported and never stops the others. */
export function createDispatcher(onError: (err: unknown, kind: ChangeKind) => void) {
  const listeners = new Map<ChangeKind, Set<ChangeListener>>();
  return {
    on(kind: ChangeKind, listener: ChangeListener): () => void {
      const set = listeners.get(kind) ?? new Set();
      listeners.set(kind, set);
      set.add(listener);
      return () => void set.delete(listener);
    },
    dispatch(kind: ChangeKind, key: string | undefined): void {
      for (const listener of listeners.get(kind) ?? []) {
        try {
          listener(key);
        } catch (err) {
          onError(err, kind);
        }
      }
    },
  };
}

/**
 * One process is the whole deployment: the in-memory stores, and PGlite, whose data directory admits one
 * process (CLI commands run inside the server, through the admin socket). Dispatches at once.
 */
export function createLocalChangeFeed(onError: (err: unknown, kind: ChangeKind) => void): ChangeFeed {
  const dispatcher = createDispatcher(onError);
  return {
    publish: async (kind, key) => dispatcher.dispatch(kind, key),
    on: dispatcher.on,
    start: async () => {},
    close: async () => {},
  };
}
