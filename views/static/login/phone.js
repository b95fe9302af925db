// @ts-check
// Signing on the phone (the login page's #phone section): when the section opens, ask the server for a handoff link
// (shown as a QR code, as text and in wallet apps' deep links, with the confirmation code the phone shows too), then
// ask every 2 seconds where it stands. Once the phone has signed, this browser continues the login with its own
// cookies. Absent on a phone's own page (views/handoff.ejs), where nothing here runs.
/** @import { HandoffOffer, HandoffStatus } from './types.js' */
import { call, ContractError } from './api.js';
import { byId, say } from './dom.js';
import { explain, isFinal, t } from './texts.js';

const POLL_MS = 2000;

/** Wires the section, when the page has one. */
export function setUpPhone() {
  const section = document.getElementById('phone');
  if (!(section instanceof HTMLDetailsElement)) return;
  const offerBox = byId('phone-offer', HTMLElement);
  const qr = byId('phone-qr', HTMLImageElement);
  const code = byId('phone-code', HTMLElement);
  const link = byId('phone-link', HTMLAnchorElement);
  const deepLinks = byId('phone-deep-links', HTMLUListElement);
  const line = byId('phone-status', HTMLElement);
  const newCode = byId('phone-new', HTMLButtonElement);
  /** Increases with every new link, so the polling of an older one stops. */
  let generation = 0;

  async function offer() {
    const mine = ++generation;
    newCode.hidden = true;
    offerBox.hidden = true;
    say(line, t('phone.preparing'));
    try {
      const answer = /** @type {HandoffOffer} */ (await call('handoff', {}));
      if (mine !== generation) return;
      qr.src = answer.qr;
      code.textContent = answer.code;
      link.href = answer.link;
      link.textContent = answer.link;
      deepLinks.replaceChildren(
        ...answer.deepLinks.map(({ wallet, href }) => {
          const item = document.createElement('li');
          const anchor = document.createElement('a');
          anchor.href = href;
          anchor.rel = 'noopener noreferrer';
          anchor.textContent = wallet;
          item.append(anchor);
          return item;
        }),
      );
      offerBox.hidden = false;
      say(line, t('phone.waiting'));
      await watch(mine);
    } catch (err) {
      if (mine !== generation) return;
      say(line, t('phone.failed', { description: explain(err) }), true);
      newCode.hidden = isFinal(err);
    }
  }

  /**
   * Asks where the link stands until the phone has signed, the link expired, or a newer link replaced it.
   * @param {number} mine the generation of the link watched
   */
  async function watch(mine) {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (mine !== generation) return;
      let answer;
      try {
        answer = /** @type {HandoffStatus} */ (await call('handoff'));
      } catch (err) {
        // A final refusal (the login ended) stops; anything else (a blip, a rate limit) is asked again.
        if (err instanceof ContractError && err.server && isFinal(err)) throw err;
        continue;
      }
      if (mine !== generation) return;
      if (answer.status === 'signed') {
        say(line, t('phone.signed'));
        window.location.assign(answer.redirectTo);
        return;
      }
      if (answer.status === 'opened') say(line, t('phone.opened'));
      if (answer.status === 'expired' || answer.status === 'none') {
        offerBox.hidden = true;
        say(line, t('phone.expired'), true);
        newCode.hidden = false;
        return;
      }
    }
  }

  section.addEventListener('toggle', () => {
    if (section.open && generation === 0) void offer();
  });
  newCode.addEventListener('click', () => void offer());
  if (section.open) void offer();
}

/**
 * On a phone's page: a link nobody has claimed stops working at its data-claim-until. If no attempt has started by
 * then (which would have claimed it), the page says so; an attempt that claimed it in time goes on.
 * @param {() => boolean} started whether this page has asked for a message to sign
 */
export function setUpHandoffExpiry(started) {
  const note = document.getElementById('handoff-expiry');
  const until = Date.parse(note?.dataset.claimUntil ?? '');
  if (!note || Number.isNaN(until)) return;
  setTimeout(() => {
    if (started()) return;
    say(note, t('handoff.expired'), true);
    for (const id of ['wallets', 'manual', 'wallet-apps']) document.getElementById(id)?.setAttribute('hidden', '');
  }, Math.max(0, until - Date.now()));
}
