// @ts-check
// The page's words: translation of the server's texts, chain names, and what to say about a failure.
import { chains, finalReasons, texts } from './page-data.js';

/**
 * The text for `key` with its {placeholders} filled in; the key itself when there is no such text.
 * @param {string} key
 * @param {Record<string, string>} [values]
 * @returns {string}
 */
export function t(key, values = {}) {
  return (texts[key] || key).replace(/\{(\w+)\}/g, (m, /** @type {string} */ name) => (name in values ? String(values[name]) : m));
}

/** The name of an EIP-155 chain: the service's name for an accepted one, "chain 1234" otherwise. @param {number} id */
export const chainName = (id) => chains.find((c) => c.id === id)?.name || t('login.unknownChain', { id: String(id) });

/**
 * The parts of a thrown value the page looks at: a wallet's numeric EIP-1193 code, a refusal's reason
 * code (see api.js), whether the server sent it, and its message.
 * @typedef {{ code?: unknown, server?: unknown, message?: unknown }} Failure
 */

/** @param {unknown} err @returns {Failure} */
const failure = (err) => (typeof err === 'object' && err !== null ? err : {});

/** The code a thrown value carries (a number from a wallet, a reason code from the server), if any. @param {unknown} err */
export const codeOf = (err) => failure(err).code;

/** Whether the server refused with a reason code no retry on this page can fix. @param {unknown} err */
export function isFinal(err) {
  const code = codeOf(err);
  return typeof code === 'string' && finalReasons.has(code);
}

/**
 * What to tell the user about a failed request to the wallet or the server.
 * @param {unknown} err
 * @param {string} [wallet] the name of the wallet asked, if one was
 * @param {number} [chainId] the chain of the message sent, if one was (a contract wallet is checked on it)
 * @returns {string}
 */
export function explain(err, wallet, chainId = 0) {
  const { code, server, message } = failure(err);
  if (isFinal(err)) return t('error.final', { description: String(message) });
  if (code === 4001) return t('error.rejected');
  if (code === -32002) return t('error.locked', { wallet: String(wallet) });
  if (code === 'unreachable') return t('error.unreachable');
  if (code === 'expired') return t('error.expiredRetry');
  if (code === 'verifier_unavailable') return t('error.verifierUnavailable', { chain: chainName(chainId) });
  if (code === 'contract_wallet_unsupported') return t('error.contractWalletUnsupported', { chain: chainName(chainId) });
  if (server) return t('error.server', { description: String(message) });
  return t('error.wallet', { wallet: wallet || t('login.browserWallet'), description: message ? String(message) : String(err) });
}
