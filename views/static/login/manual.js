// @ts-check
// Signing elsewhere: get the message, copy it out, sign it with any tool, paste the signature back.
import { ContractError, leave, NOTHING_USED_UP, requestChallenge, verify } from './api.js';
import { chainOf, sayChecking } from './checking.js';
import { byId, manualStatus } from './dom.js';
import { state } from './state.js';
import { explain, isFinal, t } from './texts.js';

// The server refuses the first three before it takes the challenge (the request's shape), and rolls back after
// the others (NOTHING_USED_UP): the challenge stays valid, and the same signature may be sent again.
const KEEPS_CHALLENGE = new Set(['invalid_request', 'unsupported_media_type', 'payload_too_large', ...NOTHING_USED_UP]);

const form = byId('manual-form', HTMLFormElement);
const addressField = byId('manual-address', HTMLInputElement);
const chainField = byId('manual-chain', HTMLSelectElement);
const signing = byId('manual-sign', HTMLElement);
const messageField = byId('manual-message', HTMLTextAreaElement);
const signatureField = byId('manual-signature', HTMLTextAreaElement);
const copyButton = byId('manual-copy', HTMLButtonElement);
const submitButton = byId('manual-submit', HTMLButtonElement);

/** Takes the message away: it can no longer be signed in with, or a new one is on its way. */
function forgetMessage() {
  state.manualChallenge = undefined;
  signing.hidden = true;
  signatureField.value = '';
}

/**
 * What was pasted, as the 0x-prefixed hex the server takes (tools differ on the prefix and line breaks): 64 or 65
 * bytes from a wallet's own key, up to 4096 from a contract wallet (EIP-1271, EIP-6492), as the server accepts.
 */
function pastedSignature() {
  const hex = signatureField.value.replace(/\s+/g, '').replace(/^0x/i, '');
  return /^([0-9a-fA-F]{2}){64,4096}$/.test(hex) ? `0x${hex}` : undefined;
}

/** "Get the message": a challenge for the address and network entered. @param {SubmitEvent} event */
async function getMessage(event) {
  event.preventDefault();
  const address = addressField.value.trim();
  const chainId = Number(chainField.value);
  // A failed request must not leave an earlier message on screen to be signed.
  forgetMessage();
  manualStatus('');
  try {
    const { message } = await requestChallenge({ address, chainId });
    state.manualChallenge = message;
    messageField.value = message;
    signing.hidden = false;
    manualStatus('');
    signatureField.focus();
  } catch (err) {
    manualStatus(explain(err), true);
  }
}

async function copyMessage() {
  try {
    await navigator.clipboard.writeText(state.manualChallenge ?? '');
  } catch {
    messageField.select();
    document.execCommand('copy');
  }
  manualStatus(t('manual.copied'));
}

/** "Sign in with this signature": sends the pasted signature of the message shown. */
async function submitSignature() {
  const message = state.manualChallenge;
  if (submitButton.disabled || !message) return;
  const signature = pastedSignature();
  if (!signature) {
    manualStatus(t('manual.badSignature'), true); // not sent: the message stays usable
    signatureField.focus();
    return;
  }
  submitButton.disabled = true;
  const signed = { message, signature };
  // Nothing replaces this attempt while it runs: the button stays disabled until the answer.
  const stopChecking = sayChecking(manualStatus, signed, () => true);
  try {
    const waiting = () => {
      stopChecking();
      manualStatus(t('status.unavailable'));
    };
    const answer = await verify(signed, { waiting });
    stopChecking();
    leave(answer, manualStatus);
    return; // stays disabled: the browser leaves, or this phone is done
  } catch (err) {
    stopChecking();
    const why = explain(err, undefined, chainOf(message));
    if (err instanceof ContractError && err.server && !KEEPS_CHALLENGE.has(err.code)) {
      // A refusal after the server took the challenge burns it: that message can never be signed in with again.
      forgetMessage();
      manualStatus(isFinal(err) ? why : `${why} ${t('manual.getNew')}`, true);
      addressField.focus();
    } else {
      // Refused before the challenge was taken, or rolled back, not sent, or not answered: the same message may be sent again.
      manualStatus(why, true);
    }
  }
  submitButton.disabled = false;
}

/** Wires the section's form and buttons. */
export function setUpManualSigning() {
  form.addEventListener('submit', getMessage);
  copyButton.addEventListener('click', copyMessage);
  submitButton.addEventListener('click', submitSignature);
}
