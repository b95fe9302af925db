// @ts-check
// Signing in with the chosen wallet: one attempt is challenge → personal_sign → verify; each ordinary
// failure gets a plain message and a way forward (try again, switch networks).
/** @import { Eip1193Provider, WalletEntry } from './types.js' */
import { leave, NOTHING_USED_UP, requestChallenge, verify } from './api.js';
import { chainOf, sayChecking } from './checking.js';
import { byId, status } from './dom.js';
import { chains } from './page-data.js';
import { state } from './state.js';
import { chainName, codeOf, explain, isFinal, t } from './texts.js';
import { keepFocus, markChosen } from './wallets.js';

const retryButton = byId('retry', HTMLButtonElement);
const switchButton = byId('switch-network', HTMLButtonElement);
const details = byId('details', HTMLElement);

/** The text as the 0x-prefixed hex of its UTF-8 bytes, as personal_sign takes a message. @param {string} text */
const toHex = (text) => `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')}`;

/** Whether the service accepts this chain. @param {number} id */
const accepted = (id) => chains.some((c) => c.id === id);

function offerRetry() {
  retryButton.hidden = false;
}

/**
 * Shows what the wallet is asked to sign, for which account, on which network.
 * @param {string} address
 * @param {number} chainId
 * @param {string} message
 */
function showDetails(address, chainId, message) {
  byId('address', HTMLElement).textContent = message.split('\n')[1] || address;
  byId('network', HTMLElement).textContent = chainName(chainId);
  byId('message', HTMLElement).textContent = message;
  details.hidden = false;
}

/**
 * Follows the wallet's own account and network changes, once per provider.
 * @param {Eip1193Provider} provider
 */
function follow(provider) {
  if (state.wallets.following.has(provider) || !provider.on) return;
  state.wallets.following.add(provider);
  provider.on('accountsChanged', (accounts) => {
    const [account] = accounts;
    if (state.chosen?.provider !== provider || !state.address || !account || account.toLowerCase() === state.address.toLowerCase()) return;
    state.flow++;
    state.busy = false;
    details.hidden = true;
    status(t('error.accountChanged', { address: account }), true);
    offerRetry();
  });
  // Switching to an accepted network in the wallet itself continues the sign-in.
  provider.on('chainChanged', (chainId) => {
    if (state.chosen?.provider !== provider || !state.wrongNetwork) return;
    const id = Number.parseInt(chainId, 16);
    if (accepted(id)) run();
    else status(t('error.wrongNetwork', { chain: chainName(id) }), true); // still not one we accept: say which it is now
  });
}

/**
 * The user picked a wallet: sign in with it.
 * @param {WalletEntry} entry
 */
export function choose(entry) {
  const { provider } = entry;
  follow(provider);
  // A second click on the wallet already asked would open a second request in it (MetaMask answers
  // that with -32002) or a second challenge to sign: the first request is still the one to answer.
  if (state.busy && state.chosen?.provider === provider) return;
  state.chosen = entry;
  markChosen();
  run();
}

/** "Try again": the signed message the server could not take yet, or else a new attempt with the wallet chosen last. */
export function retry() {
  if (!state.chosen) return;
  keepFocus();
  const unsent = state.unsent;
  if (unsent) resend(unsent);
  else run();
}

/**
 * Sends the signed message again (its nonce was not used up: the server's database was away, or the chain
 * did not answer), and goes on to the application, without asking the wallet for another signature.
 * @param {{ message: string, signature: string }} signed
 */
async function resend(signed) {
  const attempt = ++state.flow;
  retryButton.hidden = true;
  state.busy = true;
  await finish(signed, attempt);
  if (attempt === state.flow && !state.leaving) state.busy = false;
}

/**
 * Verifies the signed message and leaves for the application; a failure is shown with a way forward.
 * @param {{ message: string, signature: string }} signed
 * @param {number} attempt
 */
async function finish(signed, attempt) {
  const wanted = () => attempt === state.flow;
  const stopChecking = sayChecking(status, signed, wanted);
  try {
    const waiting = () => {
      stopChecking();
      status(t('status.unavailable'));
    };
    const answer = await verify(signed, { waiting, wanted });
    stopChecking();
    state.unsent = undefined;
    state.leaving = true;
    leave(answer, status);
  } catch (err) {
    stopChecking();
    if (attempt !== state.flow) return;
    // The server kept nothing of this attempt: "Try again" sends the same signed message.
    state.unsent = NOTHING_USED_UP.has(String(codeOf(err))) ? signed : undefined;
    if (codeOf(err) === 'expired' && !state.afterExpiry) {
      run(true);
      return;
    }
    status(explain(err, undefined, chainOf(signed.message)), true);
    if (!isFinal(err)) offerRetry();
  }
}

/**
 * One login attempt with the chosen wallet. After an expired challenge it runs once more by itself
 * (`afterExpiry`), and then keeps saying why the wallet asks again instead of the usual progress lines.
 * @param {boolean} [afterExpiry]
 */
async function run(afterExpiry = false) {
  if (!state.chosen) return;
  const attempt = ++state.flow;
  /** @param {string} text */
  const progress = (text) => (state.afterExpiry ? status(t('error.expired'), true) : status(text));
  const { provider, info } = state.chosen;
  const wallet = info.name;
  retryButton.hidden = true;
  switchButton.hidden = true;
  state.unsent = undefined;
  state.afterExpiry = afterExpiry;
  state.address = undefined;
  state.wrongNetwork = false;
  state.busy = true;
  state.leaving = false;
  // A wallet that never answers (its window closed without a reply) must not leave the user stuck.
  setTimeout(() => attempt === state.flow && state.busy && offerRetry(), 30_000);
  try {
    progress(t('status.connecting', { wallet }));
    const [address] = await provider.request({ method: 'eth_requestAccounts' });
    const chainId = Number.parseInt(await provider.request({ method: 'eth_chainId' }), 16);
    if (attempt !== state.flow) return;
    state.address = address;
    if (!accepted(chainId)) {
      status(t('error.wrongNetwork', { chain: chainName(chainId) }), true);
      state.wrongNetwork = true;
      offerSwitch(provider, wallet);
      offerRetry();
      return;
    }
    // EIP-1193 names at least one account once the user allows the page; were there none, the server refuses the challenge.
    const account = /** @type {string} */ (address);
    const { message } = await requestChallenge({ address: account, chainId });
    if (attempt !== state.flow) return;
    showDetails(account, chainId, message);
    progress(t('status.sign', { wallet }));
    const signature = await provider.request({ method: 'personal_sign', params: [toHex(message), account] });
    if (attempt !== state.flow) return;
    await finish({ message, signature }, attempt);
  } catch (err) {
    if (attempt !== state.flow) return;
    // An expired challenge is replaced at once, once: the user only has to sign again.
    if (codeOf(err) === 'expired' && !state.afterExpiry) {
      run(true);
      return;
    }
    status(explain(err, wallet), true);
    if (!isFinal(err)) offerRetry();
  } finally {
    if (attempt === state.flow && !state.leaving) state.busy = false;
  }
}

/**
 * Offers to switch the wallet to the first accepted network (EIP-3326).
 * @param {Eip1193Provider} provider
 * @param {string} wallet the wallet's name
 */
function offerSwitch(provider, wallet) {
  const target = chains[0];
  if (!target) return;
  switchButton.textContent = t('login.switchNetwork', { chain: target.name });
  switchButton.hidden = false;
  switchButton.onclick = async () => {
    const attempt = state.flow;
    switchButton.hidden = true;
    keepFocus();
    try {
      await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${target.id.toString(16)}` }] });
      // The wallet's chainChanged may have continued already, or another wallet been chosen since.
      if (attempt === state.flow && state.wrongNetwork) run();
    } catch (err) {
      if (attempt !== state.flow) return;
      // 4902: the wallet does not know the network; it has to be added there first.
      const code = codeOf(err);
      const why = code === 4001 ? 'error.rejected' : code === 4902 ? 'error.unknownNetwork' : 'error.switchFailed';
      status(t(why, { chain: target.name, wallet }), true);
      switchButton.hidden = false;
      offerRetry();
    }
  };
}
