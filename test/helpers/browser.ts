// Debian's Chromium through playwright-core, and test wallets injected into pages: the legacy
// window.ethereum and EIP-6963 announced providers, each answered by an ethers Wallet in the test process.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from './process.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

/** Why browser tests cannot run here, or undefined when they can. Under CI=true the caller must fail instead of skipping. */
export function browserUnavailable(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Only this machine resolves: a page that reaches for a third-party host fails, fast and visibly.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** EIP-6963 §"Provider Info": what a wallet announces about itself. */
export interface Eip6963Info {
  uuid: string;
  name: string;
  /** A data: URI (EIP-6963 requires one); here always an SVG. */
  icon: string;
  rdns: string;
}

/** An announced wallet's info with a coloured one-letter SVG icon. */
export function walletInfo(name: string, color = '#6b4fd8'): Eip6963Info {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" rx="6" fill="${color}"/><text x="16" y="22" font-size="18" font-family="sans-serif" text-anchor="middle" fill="#fff">${name[0]}</text></svg>`;
  return {
    uuid: randomUUID(),
    name,
    icon: `data:image/svg+xml,${encodeURIComponent(svg)}`,
    rdns: `test.wallet.${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
  };
}

/**
 * The account a wallet exposes and what it answers to personal_sign: an ethers Wallet (its own key), or a smart
 * wallet, whose address is a contract and whose signature its owners make (test/helpers/chain.ts, Safe).
 */
export interface WalletAccount {
  readonly address: string;
  signMessage(message: Uint8Array): Promise<string>;
}

export interface InjectedWallet {
  /** The account the wallet exposes and signs with. */
  account: WalletAccount;
  /** Announced through EIP-6963 with this info; absent means the legacy window.ethereum. */
  info?: Eip6963Info;
  /** The chain the wallet starts on (EIP-155 id); 1 unless told. */
  chainId?: number;
  /** Emits accountsChanged when a page connects, as MetaMask does for a newly connected site. */
  emitsAccountsOnConnect?: boolean;
  /** Announces itself only when the test calls announce() (an extension that loads late). */
  late?: boolean;
}

export interface WalletCall {
  method: string;
  params: unknown[];
}

/** Runs when a signature is asked for, before the wallet answers: it may hold the answer, move a clock, switch accounts. */
export type SignatureHook = (message: string, request: number) => void | Promise<void>;

/** The test's side of one injected wallet. */
export interface WalletControl {
  readonly address: string;
  readonly chainId: number;
  /** How many personal_sign requests the page made. */
  readonly signatureRequests: number;
  /** Every request the page made, in order. */
  readonly calls: readonly WalletCall[];
  /** Every EIP-1193 event the wallet emitted to the page, in order. */
  readonly events: readonly [event: string, value: unknown][];
  /** The next personal_sign fails as a user's refusal (EIP-1193 code 4001). */
  rejectNextSignature(): void;
  /** The next eth_requestAccounts fails as a locked wallet with a request already open (EIP-1474 code -32002, as MetaMask answers). */
  lockNextConnection(): void;
  onSignatureRequest(hook: SignatureHook | undefined): void;
  /**
   * Holds the answer to personal_sign request number `request` (by default every one) until `release()`,
   * so a test can look at the page while the wallet is asking: once the signature is given, the page moves on.
   * `asked` resolves with the message when the held request arrives. Replaces any onSignatureRequest hook.
   */
  holdSignature(request?: number): { asked: Promise<string>; release(): void };
  /** Makes `next` the wallet's account and emits accountsChanged to the page's listeners (EIP-1193 §"Events"). */
  switchAccount(next: WalletAccount): Promise<void>;
  /** The user switches networks in the wallet itself: chainChanged to the page's listeners. */
  switchChain(chainId: number): Promise<void>;
  /** The next wallet_switchEthereumChain fails with this EIP-1193 code (4001 refused, 4902 unknown network). */
  refuseNextSwitch(code: number): void;
  /** Announces a `late` wallet (EIP-6963) now. */
  announce(): Promise<void>;
}

type Answer = { result?: unknown; error?: { code: number; message: string }; emit?: [string, unknown][] };

const hexChain = (id: number) => `0x${id.toString(16)}`;
const refuse = (code: number, message: string): Answer => ({ error: { code, message } });

/**
 * Injects wallets into every document `page` loads: the legacy one as window.ethereum, the others
 * as EIP-6963 providers that announce on load and again on each eip6963:requestProvider. Each
 * request goes to the test process (page.exposeFunction), where the wallet's state lives and the
 * ethers Wallet signs. Returns one control per wallet, in the order given.
 */
export async function injectWallets(page: Page, wallets: InjectedWallet[]): Promise<WalletControl[]> {
  if (wallets.filter((w) => !w.info).length > 1) throw new Error('only one wallet can be window.ethereum');
  const state = wallets.map((w) => ({
    account: w.account,
    chainId: w.chainId ?? 1,
    signatureRequests: 0,
    rejectNext: false,
    lockedNext: false,
    refuseSwitch: undefined as number | undefined,
    emitsAccountsOnConnect: w.emitsAccountsOnConnect ?? false,
    hook: undefined as SignatureHook | undefined,
    calls: [] as WalletCall[],
    events: [] as [string, unknown][],
  }));

  const emit = (index: number, event: string, value: unknown) =>
    page.evaluate(([i, e, v]) => (window as unknown as { __testWallets: { emit(i: number, e: string, v: unknown): void } }).__testWallets.emit(i, e, v), [
      index,
      event,
      value,
    ] as const);

  await page.exposeFunction('__testWalletRequest', async (index: number, method: string, params: unknown[]): Promise<Answer> => {
    const w = state[index]!;
    w.calls.push({ method, params });
    switch (method) {
      case 'eth_requestAccounts':
        if (w.lockedNext) {
          w.lockedNext = false;
          return refuse(-32002, 'Already processing eth_requestAccounts. Please wait.');
        }
        if (w.emitsAccountsOnConnect) {
          const accounts = [w.account.address.toLowerCase()];
          w.events.push(['accountsChanged', accounts]);
          return { result: accounts, emit: [['accountsChanged', accounts]] };
        }
        return { result: [w.account.address.toLowerCase()] };
      case 'eth_accounts':
        return { result: [w.account.address.toLowerCase()] };
      case 'eth_chainId':
        return { result: hexChain(w.chainId) };
      case 'wallet_switchEthereumChain': {
        // EIP-3326: resolves null once switched; the wallet announces the change with chainChanged.
        const target = Number.parseInt(String((params[0] as { chainId?: string } | undefined)?.chainId), 16);
        if (!Number.isSafeInteger(target)) return refuse(-32602, 'invalid chainId');
        if (w.refuseSwitch !== undefined) {
          const code = w.refuseSwitch;
          w.refuseSwitch = undefined;
          return refuse(code, code === 4902 ? `Unrecognized chain ID ${hexChain(target)}` : 'User rejected the request.');
        }
        const changed = target !== w.chainId;
        w.chainId = target;
        const events: [string, unknown][] = changed ? [['chainChanged', hexChain(target)]] : [];
        w.events.push(...events);
        return { result: null, emit: events };
      }
      case 'personal_sign': {
        const request = ++w.signatureRequests;
        const [data, address] = params as [string, string];
        // A wallet signs only for the account it exposes, the one it has at the time of the request.
        const signer = w.account;
        if (String(address).toLowerCase() !== signer.address.toLowerCase()) return refuse(4100, `not authorized for ${address}`);
        const bytes = Buffer.from(String(data).replace(/^0x/, ''), 'hex');
        await w.hook?.(bytes.toString('utf8'), request);
        if (w.rejectNext) {
          w.rejectNext = false;
          return refuse(4001, 'User rejected the request.');
        }
        return { result: await signer.signMessage(bytes) };
      }
      default:
        return refuse(4200, `unsupported method ${method}`);
    }
  });

  // tsx (esbuild, keepNames) wraps named functions in __name(); functions sent to the page need it too.
  await page.addInitScript({ content: 'globalThis.__name ??= (fn) => fn;' });
  await page.addInitScript(
    (specs: { info: Eip6963Info | null; late: boolean }[]) => {
      type Listener = (value: unknown) => void;
      const w = window as unknown as Record<string, unknown> & {
        __testWalletRequest(i: number, method: string, params: unknown[]): Promise<Answer>;
      };
      const listeners = specs.map(() => new Map<string, Set<Listener>>());
      const emit = (i: number, event: string, value: unknown) => listeners[i]!.get(event)?.forEach((fn) => fn(value));
      const providers = specs.map((spec, i) => ({
        async request({ method, params }: { method: string; params?: unknown[] }) {
          const answer = await w.__testWalletRequest(i, method, params ?? []);
          for (const [event, value] of answer.emit ?? []) emit(i, event, value);
          if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
          return answer.result;
        },
        on(event: string, fn: Listener) {
          const set = listeners[i]!.get(event) ?? new Set();
          listeners[i]!.set(event, set.add(fn));
          return this;
        },
        removeListener(event: string, fn: Listener) {
          listeners[i]!.get(event)?.delete(fn);
          return this;
        },
      }));
      const announcers: (() => void)[] = [];
      specs.forEach((spec, i) => {
        const provider = providers[i]!;
        if (!spec.info) {
          w.ethereum = provider;
          return;
        }
        const detail = Object.freeze({ info: Object.freeze({ ...spec.info }), provider });
        const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }));
        announcers[i] = () => {
          window.addEventListener('eip6963:requestProvider', announce);
          announce();
        };
        if (!spec.late) announcers[i]();
      });
      w.__testWallets = { emit, announce: (i: number) => announcers[i]?.() };
    },
    wallets.map((w) => ({ info: w.info ?? null, late: w.late ?? false })),
  );

  return state.map((w, index) => ({
    get address() {
      return w.account.address;
    },
    get chainId() {
      return w.chainId;
    },
    get signatureRequests() {
      return w.signatureRequests;
    },
    get calls() {
      return w.calls;
    },
    get events() {
      return w.events;
    },
    rejectNextSignature: () => void (w.rejectNext = true),
    lockNextConnection: () => void (w.lockedNext = true),
    onSignatureRequest: (hook) => void (w.hook = hook),
    holdSignature(request) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let arrived!: (message: string) => void;
      const asked = new Promise<string>((resolve) => (arrived = resolve));
      w.hook = (message, n) => {
        if (request !== undefined && n !== request) return;
        arrived(message);
        return held;
      };
      return { asked, release };
    },
    async switchAccount(next) {
      w.account = next;
      const accounts = [next.address.toLowerCase()];
      w.events.push(['accountsChanged', accounts]);
      await emit(index, 'accountsChanged', accounts);
    },
    async switchChain(chainId) {
      w.chainId = chainId;
      w.events.push(['chainChanged', hexChain(chainId)]);
      await emit(index, 'chainChanged', hexChain(chainId));
    },
    refuseNextSwitch: (code) => void (w.refuseSwitch = code),
    announce: () => page.evaluate((i) => (window as unknown as { __testWallets: { announce(i: number): void } }).__testWallets.announce(i), index),
  }));
}
