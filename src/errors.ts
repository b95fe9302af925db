// One error model for the whole app: every refusal carries a stable `code` that clients and tests match on.

/** Reason codes a client of the login contract can receive. Stable: never rename one. */
export const REASONS = {
  invalid_request: 400,
  invalid_message: 400,
  chain_not_allowed: 400,
  address_invalid: 400,
  nonce_unknown: 400,
  nonce_used: 409,
  expired: 400,
  message_mismatch: 400,
  // Reserved: /verify compares the message byte for byte first, so a changed domain answers message_mismatch.
  domain_mismatch: 400,
  bad_signature: 401,
  interaction_not_found: 400,
  wrong_prompt: 409,
  too_many_challenges: 429,
  unsupported_media_type: 415,
  payload_too_large: 413,
} as const;

export type ReasonCode = keyof typeof REASONS;

/**
 * An error whose message is safe to show the caller. Anything that is not an AppError is
 * treated as a bug: logged, and answered as a 500 without detail (as oidc-provider's
 * err_out masks non-exposed errors).
 */
export class AppError extends Error {
  readonly code: ReasonCode;
  readonly status: number;
  readonly expose = true;

  constructor(code: ReasonCode, description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'AppError';
    this.code = code;
    this.status = REASONS[code];
  }
}

/** A configuration problem; `problems` names every variable that is wrong, all at once. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
