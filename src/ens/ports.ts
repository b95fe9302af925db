// What the ENS names need from outside: a table of the last answer per address, shared by every instance.
// Implemented in db/ens-names.ts (Postgres, PGlite) and memory/stores.ts.

/** What is stored for an address: the last answer, when to ask again, and how many asks failed since. */
export interface StoredName {
  /** The primary name; undefined with `resolvedAt` set is the answer "no name". */
  name: string | undefined;
  avatar: string | undefined;
  /** When the last answer came; undefined until the first one. */
  resolvedAt: Date | undefined;
  /** When the answer is due to be asked again (a TTL after an answer, a retry interval after a failure). */
  refreshAfter: Date;
  /** Resolutions that could not ask since the last answer. */
  failures: number;
}

/** The answer of a resolution: a name (with its avatar, if any) or null for "no name". */
export type NameAnswer = { name: string; avatar: string | undefined } | null;

export interface NameStore {
  find(address: string): Promise<StoredName | undefined>;
  /**
   * Takes the right to resolve `address` until `until`: true for one caller at a time, and only while the address is
   * missing or due (`refreshAfter` passed at `now`). A lease nobody released ends at its time (a crashed instance).
   */
  lease(address: string, now: Date, until: Date): Promise<boolean>;
  /** Records an answer, clears the failures and the lease. */
  saveAnswer(address: string, answer: NameAnswer, at: Date, refreshAfter: Date): Promise<void>;
  /** Records a failure: the last answer stays, the failures count up, the lease ends, and it is due again at `retryAfter`. */
  saveFailure(address: string, retryAfter: Date): Promise<void>;
}
