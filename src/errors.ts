// One error family for the server and the CLI: every error we raise on purpose carries a stable
// `code`, the HTTP status it answers with, whether its message may be shown to the caller, and the
// exit code the CLI ends with. Anything that is not a WalletOidcError is a bug: logged, answered as a
// 500 without detail (as oidc-provider masks non-exposed errors), exit code 1.

/**
 * Reason codes a client of the login contract can receive (docs/login-contract.md lists them; a test
 * keeps the two equal). Stable: never rename one. `final` marks refusals that no retry on the login
 * page can fix: the sign-in must start again at the application (the page reads this list).
 */
export const REASONS = {
  invalid_request: { status: 400, final: false, summary: 'the body, a parameter or the content type is wrong' },
  invalid_message: { status: 400, final: false, summary: 'not an EIP-4361 message with a Nonce line' },
  chain_not_allowed: { status: 400, final: false, summary: 'the chain id is not in ALLOWED_CHAINS' },
  address_invalid: { status: 400, final: false, summary: 'the address is not an Ethereum address' },
  nonce_unknown: { status: 400, final: false, summary: 'the message carries a nonce this login never issued' },
  nonce_used: { status: 409, final: false, summary: 'the challenge was already used (replay, or a concurrent copy lost)' },
  expired: { status: 400, final: false, summary: 'the challenge expired; ask for a new one' },
  message_mismatch: { status: 400, final: false, summary: 'the message differs, byte for byte, from the one issued' },
  // Reserved: /verify compares the message byte for byte first, so a changed domain answers message_mismatch.
  domain_mismatch: { status: 400, final: false, summary: 'reserved: the message names another domain' },
  bad_signature: { status: 401, final: false, summary: 'the signature was not made by the address in the message' },
  interaction_not_found: { status: 400, final: true, summary: 'the login expired or belongs to another browser' },
  wrong_prompt: { status: 409, final: true, summary: 'the login is at another step (login or consent)' },
  too_many_challenges: { status: 429, final: true, summary: 'this login asked for too many challenges' },
  wallet_type_mismatch: {
    status: 403,
    final: true,
    summary:
      "this address's account on this chain signs in another way (its own key, or its contract: EIP-7702); with SUB_FORMAT=caip10 both would share a sub",
  },
  account_disabled: { status: 403, final: true, summary: 'an operator disabled this account (`accounts disable`); no signature can sign it in' },
  unsupported_media_type: { status: 415, final: false, summary: 'send application/json' },
  payload_too_large: { status: 413, final: false, summary: 'the request body is over 16 kB' },
  contract_wallet_unsupported: {
    status: 400,
    final: false,
    summary: "the signature is not from the address's own key, and this chain has no RPC (RPC_URLS) to check a contract wallet's",
  },
  verifier_unavailable: {
    status: 503,
    final: false,
    summary: "the chain that checks a contract wallet's signature did not answer in time; nothing was used up, so send the same request again",
  },
  handoff_not_found: {
    status: 404,
    final: true,
    summary: 'the link for signing on another device is unknown, or the login page showed a newer one',
  },
  handoff_expired: { status: 410, final: true, summary: 'the link for signing on another device was not opened in time (HANDOFF_TTL)' },
  handoff_taken: { status: 409, final: true, summary: 'the link for signing on another device was opened on another device first' },
  handoff_used: { status: 409, final: true, summary: 'the link for signing on another device was already used to sign in' },
  rate_limited: { status: 429, final: false, summary: 'too many requests from this address or for this login; wait and try again' },
  database_unavailable: {
    status: 503,
    final: false,
    summary: 'the database did not answer; nothing was used up, so send the same request again after Retry-After',
  },
} as const satisfies Record<string, { status: number; final: boolean; summary: string }>;

export type ReasonCode = keyof typeof REASONS;

/** The reason codes no retry on the login page can fix, for the page (it reads them from the server). */
export const FINAL_REASONS = (Object.keys(REASONS) as ReasonCode[]).filter((code) => REASONS[code].final);

/** CLI exit codes: 0 done, 1 failure (a bug, the database down), 2 bad usage, input or configuration. */
export const EXIT = { failure: 1, usage: 2 } as const;

export interface WalletOidcErrorOptions {
  status?: number;
  expose?: boolean;
  exitCode?: number;
  cause?: unknown;
}

/** The base of every error raised on purpose. */
export class WalletOidcError extends Error {
  readonly code: string;
  readonly status: number;
  /** Whether the message may be shown to an HTTP caller (a CLI user always sees it). */
  readonly expose: boolean;
  readonly exitCode: number;

  constructor(code: string, message: string, options: WalletOidcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** A refusal of the login contract: a stable reason code and a message safe to show the caller. */
export class AppError extends WalletOidcError {
  declare readonly code: ReasonCode;

  constructor(code: ReasonCode, description: string, options?: { cause?: unknown }) {
    super(code, description, { status: REASONS[code].status, expose: true, exitCode: EXIT.usage, cause: options?.cause });
  }
}

/** A configuration problem; `problems` names every variable that is wrong, all at once. */
export class ConfigError extends WalletOidcError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super('invalid_configuration', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { expose: false, exitCode: EXIT.usage });
    this.problems = problems;
  }
}

/**
 * Sealed data in the database was written under a key that is neither ENCRYPTION_KEY nor one of
 * ENCRYPTION_KEY_PREVIOUS. Only key ids are named (never keys): the message reaches logs.
 */
export class WrongKeyError extends WalletOidcError {
  readonly keyId: string;

  constructor(keyId: string, expected: string, previous: readonly string[] = []) {
    super(
      'wrong_encryption_key',
      `ENCRYPTION_KEY: data in the database was sealed with key ${keyId}, but the configured key is ${expected}` +
        ` and ENCRYPTION_KEY_PREVIOUS ${previous.length ? `holds ${previous.join(', ')}` : 'is not set'}; ` +
        'start with the key the data was written with, or, while rotating, give that key in ENCRYPTION_KEY_PREVIOUS ' +
        '(docs/operations.md, "Rotating ENCRYPTION_KEY")',
      { expose: false, exitCode: EXIT.usage },
    );
    this.keyId = keyId;
  }
}

/** Seconds a 503 asks the caller to wait (Retry-After): an outage is seen by every request, so none hammers the database. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The database could not be reached or did not answer in time (db/unavailable.ts decides which
 * driver errors mean that). Not a bug: the request may succeed when sent again, so HTTP callers get
 * 503 with Retry-After, and the CLI exits with 1. The driver's error is the `cause`, for the logs.
 */
export class DatabaseUnavailableError extends WalletOidcError {
  constructor(cause: unknown) {
    super('database_unavailable', 'the database is unavailable; try again shortly', { status: 503, expose: true, cause });
  }
}

/** Whether `err`, or an error it wraps (`cause`), is a database outage: the request may succeed when sent again. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
  }
  return false;
}

/** Client metadata oidc-provider would refuse or silently drop (RFC 7591 error codes). */
export class ClientMetadataError extends WalletOidcError {
  constructor(code: string, description: string) {
    super(code, description, { status: 400, exitCode: EXIT.usage });
  }
}

/**
 * Another live process holds the PGlite data directory (src/admin/data-dir-lock.ts). `holder` says who, as it
 * recorded itself: pid, host, start time and command line.
 */
export class DataDirLockedError extends WalletOidcError {
  readonly dataDir: string;

  constructor(dataDir: string, holder: string) {
    super(
      'data_dir_locked',
      `DATA_DIR ${dataDir} is in use by another wallet-oidc process (${holder}). PGlite admits one process per data directory: ` +
        'stop that process first, or give this one another DATA_DIR (several servers can share one Postgres: DATABASE_URL). ' +
        'CLI commands need no stop: while a server runs, they run through it',
      { expose: false, exitCode: EXIT.usage },
    );
    this.dataDir = dataDir;
  }
}

/** A command used wrongly or naming something that does not exist. */
export class UsageError extends WalletOidcError {
  constructor(message: string) {
    super('usage', message, { status: 400, exitCode: EXIT.usage });
  }
}

/**
 * SQLSTATE class 22, data exception: the database cannot hold or read a value the request carried (a
 * NUL in text, an unsupported Unicode escape, text that is not valid for its type). The input's fault,
 * never a bug: a lookup by such a value finds nothing, and storing one is refused as a bad request.
 */
export function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/** What the CLI and the server print for an error that stops them, and the exit code. */
export function describeFatal(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ClientMetadataError) return { message: `${err.code}: ${err.message}`, exitCode: err.exitCode };
  // The operator needs the driver's own words (which host refused, which timeout) to fix an outage.
  if (err instanceof DatabaseUnavailableError)
    return { message: `${err.message} (${err.cause instanceof Error ? err.cause.message : String(err.cause)})`, exitCode: err.exitCode };
  if (err instanceof WalletOidcError) return { message: err.message, exitCode: err.exitCode };
  return { message: err instanceof Error ? (err.stack ?? err.message) : String(err), exitCode: EXIT.failure };
}
