// @ts-check
// What the server tells the page, read once from the #login section's data attributes (no inline
// script under the CSP): where the contract is, the accepted chains, the texts and the final reason codes.
/** @import { Chain } from './types.js' */
import { byId } from './dom.js';

const root = byId('login', HTMLElement);

/**
 * A data attribute of #login, parsed as JSON.
 * @param {string} name the dataset key, e.g. finalReasons for data-final-reasons
 * @returns {unknown}
 */
function readJson(name) {
  const raw = root.dataset[name];
  if (raw === undefined) throw new Error(`login page: #login has no data attribute for ${name}`);
  return JSON.parse(raw);
}

/**
 * Where this page's challenge and verify go: `/interaction/<uid>` on the login page, `/handoff/<secret>` on a phone
 * the login was handed to (which then leaves the rest to the computer).
 */
export const api = root.dataset.api ?? '';

/** The chains the service accepts, the first the one a wallet is asked to switch to. */
export const chains = /** @type {Chain[]} */ (readJson('chains'));

/** The page's texts by key (views/i18n/*.json). */
export const texts = /** @type {Record<string, string>} */ (readJson('texts'));

/** Reason codes no retry on this page can fix (src/errors.ts FINAL_REASONS): the sign-in must start again at the application. */
export const finalReasons = new Set(/** @type {string[]} */ (readJson('finalReasons')));
