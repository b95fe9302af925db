// @ts-check
// The shapes the login page works with, as JSDoc types for the type check (views/tsconfig.json).
// Nothing here runs: modules name these types in JSDoc (@import), so the browser never loads this file.

/**
 * What a wallet answers to the requests the page makes (EIP-1193 `request`; EIP-1474, EIP-3326).
 * @typedef {object} WalletMethods
 * @property {{ params?: undefined, result: string[] }} eth_requestAccounts the accounts the user lets the page see
 * @property {{ params?: undefined, result: string }} eth_chainId the wallet's current chain, as 0x-prefixed hex
 * @property {{ params: [data: string, address: string], result: string }} personal_sign EIP-191: the message as 0x hex, and the signer
 * @property {{ params: [{ chainId: string }], result: null }} wallet_switchEthereumChain EIP-3326: resolves null once switched
 */

/**
 * One request to a wallet: the method and, where it takes them, its parameters.
 * @template {keyof WalletMethods} M
 * @typedef {{ method: M, params?: WalletMethods[M]['params'] }} WalletRequest
 */

/**
 * An EIP-1193 provider: the wallet as the page talks to it. Requests reject with an error carrying
 * a numeric `code` (4001 refused by the user, -32002 a request already open, 4902 unknown chain).
 * @typedef {object} Eip1193Provider
 * @property {<M extends keyof WalletMethods>(request: WalletRequest<M>) => Promise<WalletMethods[M]['result']>} request
 * @property {ProviderEvents} [on] EIP-1193 §"Events"; a provider may lack it
 */

/**
 * The events the page follows on a provider.
 * @typedef {{
 *   (event: 'accountsChanged', listener: (accounts: string[]) => void): unknown,
 *   (event: 'chainChanged', listener: (chainId: string) => void): unknown,
 * }} ProviderEvents
 */

/**
 * EIP-6963 §"Provider Info": what a wallet announces about itself. The legacy window.ethereum gets
 * only a uuid ("legacy") and a name from the page.
 * @typedef {object} WalletInfo
 * @property {string} uuid unique per announcement (per page load)
 * @property {string} name shown to the user
 * @property {string} [icon] a data: URI; anything else is not shown
 * @property {string} [rdns] reverse DNS name of the wallet, e.g. io.metamask
 */

/**
 * EIP-6963 §"Provider Detail": an announced wallet (the `detail` of eip6963:announceProvider), and
 * equally the legacy window.ethereum as the page lists it.
 * @typedef {object} WalletEntry
 * @property {WalletInfo} info
 * @property {Eip1193Provider} provider
 */

/**
 * A chain the service accepts (ALLOWED_CHAINS), as the server renders it in data-chains.
 * @typedef {object} Chain
 * @property {number} id EIP-155 chain id
 * @property {string} name
 * @property {boolean} contractWallets whether the service checks contract wallets' signatures on it (it has an RPC_URLS entry)
 */

/**
 * The body of a refusal from the login contract (docs/login-contract.md): a reason code and a sentence.
 * @typedef {object} ServerErrorBody
 * @property {string} [error] the reason code (src/errors.ts REASONS)
 * @property {string} [error_description]
 */

/** POST /interaction/:uid/challenge answers with the EIP-4361 message to sign. @typedef {{ message: string }} ChallengeAnswer */

/**
 * POST verify answers with where the browser goes next, or, on a phone the login was handed to, that it goes on at the computer.
 * @typedef {{ redirectTo: string } | { continuesOn: 'computer' }} VerifyAnswer
 */

/**
 * POST /interaction/:uid/handoff: a link for signing on the phone.
 * @typedef {{ link: string, code: string, expiresAt: string, qr: string, deepLinks: { wallet: string, href: string }[] }} HandoffOffer
 */

/**
 * GET /interaction/:uid/handoff: where that link stands.
 * @typedef {{ status: 'none' | 'waiting' | 'expired' } | { status: 'opened', code: string } | { status: 'signed', redirectTo: string }} HandoffStatus
 */

export {};
