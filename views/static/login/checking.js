// @ts-check
// What the page says while the server checks a signature. A wallet's own key is checked at once; a contract
// wallet's signature (EIP-1271, or EIP-6492 for one not deployed yet) is asked of its chain, which can take a
// while: the page names the chain at once when the signature can only be a contract's, else once the answer is slow.
import { chains } from './page-data.js';
import { chainName, t } from './texts.js';

/** EIP-6492's magic suffix: a signature ending with it wraps a counterfactual wallet's deployment. */
const ERC6492_SUFFIX = '6492'.repeat(16);

/** How long the page waits for an answer before it says the chain is asked (a wallet's own key takes milliseconds). */
const SLOW_MS = 1000;

/**
 * Whether a signature can only be a contract wallet's: not 64 or 65 bytes, or wrapped for EIP-6492 (the server
 * decides the same way: src/siwe/contract-verifier.ts). A Safe with one owner returns 65 bytes: only slowness tells.
 * @param {string} signature 0x-prefixed hex
 */
export function onlyContract(signature) {
  const bytes = (signature.length - 2) / 2;
  return (bytes !== 64 && bytes !== 65) || signature.toLowerCase().endsWith(ERC6492_SUFFIX);
}

/** The chain id an EIP-4361 message names (its "Chain ID:" line), or 0. @param {string} message */
export function chainOf(message) {
  return Number(/^Chain ID: (\d+)$/m.exec(message)?.[1] ?? 0);
}

/**
 * Says the signature is being checked; names the chain when the server asks it, which it can only do on a chain
 * with an RPC (`contractWallets`). Returns a function that stops any later change (call it when the answer comes).
 * @param {(text: string) => void} say the status line to use
 * @param {{ message: string, signature: string }} signed
 * @param {() => boolean} wanted false once the attempt was replaced: nothing more is said for it
 * @returns {() => void}
 */
export function sayChecking(say, signed, wanted) {
  const id = chainOf(signed.message);
  const askingChain = () => say(t('status.checkingChain', { chain: chainName(id) }));
  if (!chains.find((c) => c.id === id)?.contractWallets) {
    say(t('status.checking'));
    return () => {};
  }
  if (onlyContract(signed.signature)) {
    askingChain();
    return () => {};
  }
  say(t('status.checking'));
  const timer = setTimeout(() => wanted() && askingChain(), SLOW_MS);
  return () => clearTimeout(timer);
}
