// @ts-check
// Wallet discovery (EIP-6963, with the legacy injected window.ethereum as the fallback) and the
// list of wallet buttons the user picks from.
/** @import { Eip1193Provider, WalletEntry } from './types.js' */
import { byId, status } from './dom.js';
import { state } from './state.js';
import { t } from './texts.js';

const list = byId('wallets', HTMLUListElement);

/** The provider a pre-EIP-6963 wallet injects, if any. */
const legacyProvider = () => /** @type {Window & { ethereum?: Eip1193Provider }} */ (window).ethereum;

/**
 * The `detail` of an eip6963:announceProvider event, when it looks like a wallet announcing itself.
 * @param {Event} event
 * @returns {WalletEntry | undefined}
 */
function announcedWallet(event) {
  /** @type {unknown} */
  const detail = 'detail' in event ? event.detail : undefined;
  if (typeof detail !== 'object' || !detail || !('info' in detail) || !('provider' in detail) || !detail.info || !detail.provider) return undefined;
  // EIP-6963 promises the rest of the shape; the page only ever reads it.
  return /** @type {WalletEntry} */ (detail);
}

/**
 * Shows the wallets found (unless the list shows them already); returns how many there are.
 * @param {(entry: WalletEntry) => void} choose what a click on a wallet does
 * @returns {number}
 */
function renderWallets(choose) {
  const wallets = [...state.wallets.announced.values()];
  const legacy = legacyProvider();
  if (!wallets.length && legacy) wallets.push({ info: { uuid: 'legacy', name: t('login.browserWallet') }, provider: legacy });
  const shown = wallets.map((entry) => entry.info.uuid).join('\n');
  if (shown === state.wallets.rendered) return wallets.length;
  state.wallets.rendered = shown;
  list.replaceChildren(
    ...wallets.map((entry) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.wallet = entry.info.rdns || entry.info.uuid;
      if (typeof entry.info.icon === 'string' && entry.info.icon.startsWith('data:image/')) {
        const img = document.createElement('img');
        img.src = entry.info.icon;
        img.alt = '';
        button.append(img);
      }
      button.append(document.createTextNode(entry.info.name));
      state.wallets.buttons.set(button, entry.provider);
      button.addEventListener('click', () => choose(entry));
      li.append(button);
      return li;
    }),
  );
  if (wallets.length === 1) list.querySelector('button')?.classList.add('primary');
  markChosen();
  return wallets.length;
}

/** Marks the chosen wallet's button (aria-pressed) for sight and for screen readers; returns it. */
export function markChosen() {
  const { chosen } = state;
  if (!chosen) return undefined;
  let mine;
  for (const button of list.querySelectorAll('button')) {
    const isChosen = state.wallets.buttons.get(button) === chosen.provider;
    button.setAttribute('aria-pressed', String(isChosen));
    if (isChosen) mine = button;
  }
  return mine;
}

/** A button that hides itself when pressed hands keyboard focus to the chosen wallet, not to the page top. */
export function keepFocus() {
  markChosen()?.focus();
}

/**
 * Listens for wallets announcing themselves, asks them to, and after a moment says so if there is none.
 * @param {(entry: WalletEntry) => void} choose what a click on a wallet does
 */
export function discoverWallets(choose) {
  window.addEventListener('eip6963:announceProvider', (event) => {
    const entry = announcedWallet(event);
    if (!entry || state.wallets.announced.has(entry.info.uuid)) return;
    state.wallets.announced.set(entry.info.uuid, entry);
    renderWallets(choose);
    if (state.wallets.noWalletSaid) {
      state.wallets.noWalletSaid = false;
      status('');
    }
  });
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  // Wallets announce at once; give late ones a moment before saying there is none.
  setTimeout(() => {
    if (!renderWallets(choose)) {
      state.wallets.noWalletSaid = true;
      status(t('error.noWallet'), true);
      byId('manual', HTMLDetailsElement).open = true;
      // The login page offers the phone (views/login.ejs); a phone's page, its wallet apps (views/handoff.ejs).
      const other = document.getElementById('phone') ?? document.getElementById('wallet-apps');
      if (other instanceof HTMLDetailsElement) other.open = true;
    }
  }, 400);
}
