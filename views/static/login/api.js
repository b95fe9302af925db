// @ts-check
// The server side of the login contract (docs/login-contract.md): ask for a challenge, send its signature.
/** @import { ChallengeAnswer, ServerErrorBody, VerifyAnswer } from './types.js' */
import { api } from './page-data.js';
import { t } from './texts.js';

/** A failed request to the contract: the server's reason code (`server`), or `unreachable` when no answer of ours came back. */
export class ContractError extends Error {
  /**
   * @param {string} message
   * @param {string} code a reason code (src/errors.ts REASONS), `server_error`, or `unreachable`
   * @param {boolean} server whether the server itself refused
   * @param {number} [retryAfterSeconds]
   */
  constructor(message, code, server, retryAfterSeconds = 0) {
    super(message);
    this.code = code;
    this.server = server;
    /** When the server asked to be asked again (Retry-After, in seconds), or 0. */
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Refusals of verify after which the same signed message can be sent again: the server rolled back, so the
 * challenge was not used up (its database was away, or the chain that checks a contract wallet did not answer).
 */
export const NOTHING_USED_UP = new Set(['database_unavailable', 'verifier_unavailable']);

const unreachable = () => new ContractError(t('error.unreachable'), 'unreachable', false);

/**
 * Sends a request to the contract and returns the server's answer; refusals throw a ContractError.
 * @template T
 * @param {'challenge' | 'verify' | 'handoff'} path
 * @param {object} [body] sent as a POST; without it, a GET
 * @returns {Promise<T>}
 */
export async function call(path, body) {
  let res;
  try {
    res = await fetch(`${api}/${path}`, {
      method: body ? 'POST' : 'GET',
      credentials: 'same-origin',
      headers: body ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' },
      body: body && JSON.stringify(body),
    });
  } catch {
    throw unreachable();
  }
  /** @type {unknown} */
  const data = await res.json().catch(() => ({}));
  if (res.ok) return /** @type {T} */ (data);
  const refusal = /** @type {ServerErrorBody} */ (data ?? {});
  // A proxy's 502/503/504 page is no answer from us: the same as not reaching the server.
  if (!refusal.error && res.status >= 500) throw unreachable();
  const retryAfter = Number(res.headers.get('retry-after')) || 0;
  throw new ContractError(refusal.error_description || t('error.http', { status: String(res.status) }), refusal.error || 'server_error', true, retryAfter);
}

/**
 * Asks for the EIP-4361 message this address signs on this chain.
 * @param {{ address: string, chainId: number }} request
 * @returns {Promise<ChallengeAnswer>}
 */
export const requestChallenge = (request) => call('challenge', request);

/** How many times one signed message is sent while the server's database is briefly away. */
const VERIFY_TRIES = 4;

/**
 * Sends the signed message; the answer says where the browser goes next. While the server says its
 * database is away (503 database_unavailable: nothing was used up), the same signed message is sent
 * again after Retry-After, a few times: the user never signs twice because of an outage.
 * @param {{ message: string, signature: string }} signed
 * @param {{ waiting?: () => void, wanted?: () => boolean }} [opts] `waiting` is told before each wait; `wanted` false stops the retries
 * @returns {Promise<VerifyAnswer>}
 */
export async function verify(signed, opts = {}) {
  for (let tries = 1; ; tries++) {
    try {
      return await call('verify', signed);
    } catch (err) {
      if (!(err instanceof ContractError) || err.code !== 'database_unavailable' || tries >= VERIFY_TRIES) throw err;
      opts.waiting?.();
      await new Promise((resolve) => setTimeout(resolve, (err.retryAfterSeconds || 5) * 1000));
      if (opts.wanted && !opts.wanted()) throw err;
    }
  }
}

/**
 * Goes where a verify's answer says: on to the application, or, on a phone the login was handed to, nowhere (the
 * computer goes on by itself): this page then offers nothing more to sign.
 * @param {VerifyAnswer} answer
 * @param {(text: string) => void} say the status line to tell
 */
export function leave(answer, say) {
  if ('redirectTo' in answer) {
    say(t('status.done'));
    window.location.assign(answer.redirectTo);
    return;
  }
  say(t('handoff.done'));
  for (const id of ['wallets', 'manual', 'wallet-apps', 'handoff-expiry']) document.getElementById(id)?.setAttribute('hidden', '');
}
