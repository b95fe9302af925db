// @ts-check
// The login page, and a phone's page for a login handed to it: one client of the HTTP login contract
// (challenge → personal_sign → verify).
// Wallets are discovered with EIP-6963 (a legacy window.ethereum is the fallback); every ordinary
// failure gets a plain message and a way forward. No inline script: data comes in data attributes.
// An ES module (deferred, like every module script): it runs once the page is parsed. The parts:
//   login/page-data.js  what the server put in #login's data attributes
//   login/texts.js      the page's words: translation, chain names, what to say about a failure
//   login/state.js      the page's mutable state, in one object
//   login/wallets.js    wallet discovery (EIP-6963, legacy) and the list of wallet buttons
//   login/sign-in.js    one attempt with the chosen wallet, and its ways forward
//   login/manual.js     signing elsewhere: copy the message, paste the signature
//   login/phone.js      signing on the phone: the login page's QR code and its waiting; a phone page's expiry
//   login/api.js        the server's challenge, verify and handoff endpoints
//   login/checking.js   what the page says while the server checks a signature (and asks a contract wallet's chain)
//   login/dom.js        element lookup and the status lines
import { byId } from './login/dom.js';
import { setUpManualSigning } from './login/manual.js';
import { setUpHandoffExpiry, setUpPhone } from './login/phone.js';
import { choose, retry } from './login/sign-in.js';
import { state } from './login/state.js';
import { discoverWallets } from './login/wallets.js';

discoverWallets(choose);
byId('retry', HTMLButtonElement).addEventListener('click', retry);
setUpManualSigning();
setUpPhone();
setUpHandoffExpiry(() => state.flow > 0 || state.manualChallenge !== undefined);
