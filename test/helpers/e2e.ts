// What every browser test file sets up once: the app (over the in-memory stores unless given a database) with a movable SIWE clock, a
// relying party (openid-client), and Chromium; then a fresh browser context for each login page.
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { startTestServer, REDIRECT_URI, type TestServer } from './server.ts';
import { createOpenidClient } from './rp.ts';
import { ROOT } from './process.ts';
import type { TestDatabase } from './db.ts';
import { browserUnavailable, injectWallets, launchBrowser, type InjectedWallet, type WalletControl } from './browser.ts';
import { loadTexts, translate } from '../../src/http/pages.ts';

const missing = browserUnavailable();
/** A suite's skip reason: a missing Chromium skips locally, but under CI=true the suite runs and fails. */
export const skipWithoutBrowser = missing && process.env.CI !== 'true' ? missing : false;

/** The RP's logo_uri: the browser gets it from the route each page sets up, not from the network. */
export const RP_LOGO_URI = 'https://rp.example/logo.svg';
const RP_LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><rect width="48" height="48" rx="10" fill="#e0832f"/><path d="M12 34 24 12l12 22z" fill="#fff"/></svg>';

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 360, height: 780 };

/** The texts the pages show (views/i18n/en.json): tests assert on exactly these. */
const texts = loadTexts(path.join(ROOT, 'views'));
export function text(key: string, values: Record<string, string> = {}): string {
  if (!(key in texts)) throw new Error(`no text ${key} in en.json`);
  return translate(texts, key, values);
}

/** Waits until the element's whole text is `expected`; fails with what it showed instead. */
export async function waitForText(locator: Locator, expected: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let shown: string | null = null;
  while (Date.now() < deadline) {
    shown = await locator.textContent();
    if (shown === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`expected ${JSON.stringify(expected)}, the page shows ${JSON.stringify(shown)}`);
}

/** The SIWE clock the server runs on: real time plus an offset a test can move forward. */
export interface MovableClock {
  now(): Date;
  advance(seconds: number): void;
}

export interface LoginPage {
  page: Page;
  context: BrowserContext;
  /** The RP's authorization request. */
  url: URL;
  /** What the RP checks its callback against (PKCE verifier, state, nonce). */
  checks: { pkceCodeVerifier: string; expectedState: string; expectedNonce: string };
  /** One control per injected wallet, in the order given. */
  wallets: WalletControl[];
  /** The login page's status line (role=status). */
  status: Locator;
  /** Opens the authorization request; the browser lands on the login page. */
  goto(): Promise<void>;
  /** The URL the browser asked for at the RP's redirect URI (fails after 15 s with what the page said). */
  callback(): Promise<URL>;
  /** Waits until the page has arrived at the RP, before the test navigates it elsewhere. */
  arrived(): Promise<void>;
  /** Waits for consent, allows it, and redeems the code as the RP: the ID token's claims. */
  allow(): Promise<oidc.IDToken>;
  /** Redeems the code the RP received: the ID token's claims. */
  redeem(): Promise<oidc.IDToken>;
}

export type RelyingParty = Awaited<ReturnType<typeof createOpenidClient>>;

export interface Harness {
  server: TestServer;
  rp: RelyingParty;
  browser: Browser;
  clock: MovableClock;
  /** `rp`: the relying party whose authorization request the page opens (another client, such as a first-party one); the harness's by default. */
  open(opts?: {
    viewport?: { width: number; height: number };
    wallets?: InjectedWallet[];
    context?: BrowserContextOptions;
    rp?: RelyingParty;
  }): Promise<LoginPage>;
  /** Closes every context opened since the last call (afterEach). */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `database`: the stores' database (the caller drops it after close()), for a suite that needs what only SQL does,
 * such as a verify rolled back whole; by default the in-memory stores.
 */
export async function startHarness(opts: { env?: Record<string, string>; database?: TestDatabase } = {}): Promise<Harness> {
  if (missing) throw new Error(`${missing}; under CI=true browser tests must run`);
  let offset = 0;
  const clock: MovableClock = { now: () => new Date(Date.now() + offset), advance: (seconds) => void (offset += seconds * 1000) };
  // The page is what these suites test: the stores are in memory unless told (storage has suites of its own).
  const server = await startTestServer(opts.database ?? 'memory', { env: opts.env ?? {}, clock: clock.now });
  const rp = await createOpenidClient(server, {
    client_name: 'Browser RP',
    client_uri: 'https://rp.example',
    logo_uri: RP_LOGO_URI,
    policy_uri: 'https://rp.example/privacy',
    tos_uri: 'https://rp.example/terms',
  });
  const browser = await launchBrowser();
  let contexts: BrowserContext[] = [];

  async function open({
    viewport = DESKTOP,
    wallets = [],
    context: contextOptions = {},
    rp: client = rp,
  }: Parameters<Harness['open']>[0] = {}): Promise<LoginPage> {
    const context = await browser.newContext({ viewport, ...contextOptions });
    contexts.push(context);
    await context.route(RP_LOGO_URI, (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: RP_LOGO_SVG }));
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const controls = await injectWallets(page, wallets);
    const { url, checks } = await client.authorize();

    // The RP is not running: its redirect URI is seen as the browser asks for it. Chromium does not
    // route a redirect's target; it retries the failed navigation about a second later, and that
    // one the route answers, so the page ends at a plain "RP callback" page.
    let reached: (url: URL) => void;
    const reachedRp = new Promise<URL>((resolve) => (reached = resolve));
    page.on('request', (req) => req.url().startsWith(REDIRECT_URI) && reached(new URL(req.url())));
    await page.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'RP callback' }));

    const callback = async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(async () => {
          const said = await page
            .locator('[role=status]')
            .allTextContents()
            .catch(() => []);
          reject(new Error(`the RP's redirect URI was not reached; the page is at ${page.url()} and says ${JSON.stringify(said)}`));
        }, 15_000);
      });
      try {
        return await Promise.race([reachedRp, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    const redeem = async () => {
      const tokens = await oidc.authorizationCodeGrant(client.config, await callback(), checks);
      return tokens.claims()!;
    };

    return {
      page,
      context,
      url,
      checks,
      wallets: controls,
      status: page.locator('#status'),
      goto: async () => void (await page.goto(url.href)),
      callback,
      arrived: () => page.waitForURL((u) => u.href.startsWith(REDIRECT_URI)),
      async allow() {
        await page.getByRole('button', { name: text('consent.allow') }).click();
        return redeem();
      },
      redeem,
    };
  }

  return {
    server,
    rp,
    browser,
    clock,
    open,
    async closePages() {
      const closing = contexts;
      contexts = [];
      await Promise.all(closing.map((c) => c.close()));
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
