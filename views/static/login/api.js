// @ts-check
// The server side of the login contract (docs/login-contract.md): ask for a challenge, send its signature.
/** @import { ChallengeAnswer, ServerErrorBody, VerifyAnswer } from './types.js' */
import { uid } from './page-data.js';
import { t } from './texts.js';

/** A failed request to the contract: the server's reason code (`server`), or `unreachable` when no answer of ours came back. */
export class ContractError extends Error {
  /**
   * @param {string} message
   * @param {string} code a reason code (src/errors.ts REASONS), `server_error`, or `unreachable`
   * @param {boolean} server whether the server itself refused
   */
  constructor(message, code, server) {
    super(message);
    this.code = code;
    this.server = server;
  }
}

const unreachable = () => new ContractError(t('error.unreachable'), 'unreachable', false);

/**
 * POSTs to the contract and returns the server's answer; refusals throw a ContractError.
 * @template T
 * @param {'challenge' | 'verify'} path
 * @param {object} body
 * @returns {Promise<T>}
 */
async function post(path, body) {
  let res;
  try {
    res = await fetch(`/interaction/${uid}/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
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
  throw new ContractError(refusal.error_description || t('error.http', { status: String(res.status) }), refusal.error || 'server_error', true);
}

/**
 * Asks for the EIP-4361 message this address signs on this chain.
 * @param {{ address: string, chainId: number }} request
 * @returns {Promise<ChallengeAnswer>}
 */
export const requestChallenge = (request) => post('challenge', request);

/**
 * Sends the signed message; the answer says where the browser goes next.
 * @param {{ message: string, signature: string }} signed
 * @returns {Promise<VerifyAnswer>}
 */
export const verify = (signed) => post('verify', signed);
