// @ts-check
// The page's mutable state, all in one object: every module reads and changes it here, nowhere else.
/** @import { Eip1193Provider, WalletEntry } from './types.js' */

/**
 * @typedef {object} WalletListState
 * @property {Map<string, WalletEntry>} announced EIP-6963 wallets by uuid, in the order they announced
 * @property {string} rendered the uuids the list shows, so an unchanged list is not rebuilt (and focus kept)
 * @property {boolean} noWalletSaid the page said there is no wallet; a wallet announced later takes that back
 * @property {WeakMap<HTMLButtonElement, Eip1193Provider>} buttons the provider behind each wallet button
 * @property {WeakSet<Eip1193Provider>} following providers whose accountsChanged and chainChanged the page already follows
 */

/**
 * @typedef {object} PageState
 * @property {WalletListState} wallets the wallets found, and the list that shows them
 * @property {WalletEntry | undefined} chosen the wallet the user picked last
 * @property {number} flow increases on every new attempt (and when one is stopped), so a stale attempt stops quietly
 * @property {boolean} busy an attempt is waiting on the wallet or the server
 * @property {boolean} leaving the attempt succeeded: the browser is on its way to the application (or, on a phone, the computer goes on)
 * @property {boolean} afterExpiry the attempt replaces an expired challenge: its status keeps saying why the wallet asks again
 * @property {string | undefined} address this attempt's account, once the wallet names it
 * @property {boolean} wrongNetwork the attempt stopped because the wallet is on a network the service does not accept
 * @property {{ message: string, signature: string } | undefined} unsent a signed message the server could not take (its database was away, or the chain did not answer), for "Try again" to send unchanged
 * @property {string | undefined} manualChallenge the current challenge of signing elsewhere: the EIP-4361 message shown, while it can still be used
 */

/** @type {PageState} */
export const state = {
  wallets: { announced: new Map(), rendered: '', noWalletSaid: false, buttons: new WeakMap(), following: new WeakSet() },
  chosen: undefined,
  flow: 0,
  busy: false,
  leaving: false,
  afterExpiry: false,
  address: undefined,
  wrongNetwork: false,
  manualChallenge: undefined,
  unsent: undefined,
};
