// Debian's Chromium through playwright-core, and a test wallet injected into pages as window.ethereum.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestWallet } from './login.ts';
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
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Injects an EIP-1193 provider as window.ethereum whose personal_sign is answered by a real ethers
 * Wallet in the test process. `behaviour.rejectNext` makes the next signature request fail with 4001.
 */
export async function injectLegacyWallet(page: Page, wallet: TestWallet, chainId = 1): Promise<{ rejectNext(): void }> {
  let reject = false;
  await page.exposeFunction('__testWalletSign', async (hex: string) => {
    if (reject) {
      reject = false;
      return { error: { code: 4001, message: 'User rejected the request.' } };
    }
    return { result: await wallet.signMessage(Buffer.from(hex.slice(2), 'hex')) };
  });
  await page.addInitScript(
    ({ address, chainHex }) => {
      const w = window as unknown as { ethereum: unknown; __testWalletSign(hex: string): Promise<{ result?: string; error?: { code: number; message: string } }> };
      w.ethereum = {
        isMetaMask: false,
        async request({ method, params }: { method: string; params?: unknown[] }) {
          switch (method) {
            case 'eth_requestAccounts':
            case 'eth_accounts':
              return [address];
            case 'eth_chainId':
              return chainHex;
            case 'personal_sign': {
              const answer = await w.__testWalletSign(String(params?.[0]));
              if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
              return answer.result;
            }
            default:
              throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
          }
        },
      };
    },
    { address: wallet.address.toLowerCase(), chainHex: `0x${chainId.toString(16)}` },
  );
  return { rejectNext: () => (reject = true) };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
