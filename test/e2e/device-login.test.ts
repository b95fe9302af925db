// The operator's example (demo/device-login.ts) as a user runs it: the script, a child process, prints the verification
// URI and the user code and polls; Chromium opens the URI, confirms the code, and signs in with the injected wallet on
// the login page; the script then prints the ID token's claims for that wallet.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { walletInfo } from '../helpers/browser.ts';
import { skipWithoutBrowser, startHarness, text, type Harness } from '../helpers/e2e.ts';
import { ROOT } from '../helpers/process.ts';

interface Script {
  /** Resolves with a line of the script's output once it has printed one starting with `prefix`. */
  line(prefix: string): Promise<string>;
  /** The exit code and everything printed. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function runExample(issuer: string, clientId: string): { child: ChildProcess; script: Script } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/device-login.ts', issuer, clientId], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiting]) {
      const found = stdout.split('\n').find((l) => l.startsWith(w.prefix));
      if (found !== undefined) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(found.slice(w.prefix.length).trim());
      }
    }
  };
  child.stdout!.on('data', (d) => ((stdout += d), check()));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  const line = (prefix: string) =>
    Promise.race([
      new Promise<string>((resolve) => (waiting.push({ prefix, resolve }), check())),
      done.then(({ code }) => Promise.reject(new Error(`the script ended (${code}) before printing ${prefix}\n${stdout}${stderr}`))),
    ]);
  return { child, script: { line, done } };
}

/** The JSON the script printed after "ID token claims:". */
const claimsOf = (stdout: string) => JSON.parse(stdout.slice(stdout.indexOf('ID token claims:') + 'ID token claims:'.length)) as { sub: string };

describe('the device login example', { skip: skipWithoutBrowser }, () => {
  let h: Harness;
  let clientId: string;
  const children: ChildProcess[] = [];
  before(async () => {
    h = await startHarness({ env: { DEVICE_POLL_INTERVAL: '1' } });
    const client = await h.server.addClient({
      client_name: 'Wallet CLI',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'none',
    });
    clientId = client.client_id;
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
    await h.closePages();
  });
  after(() => h?.close());

  /** From the confirmation page: Continue, pick the wallet, sign, allow; the page ends on the success page, the CSP never tripped. */
  async function confirmAndSignIn(login: Awaited<ReturnType<Harness['open']>>, violations: string[]): Promise<void> {
    const { page } = login;
    await page.getByRole('heading', { name: text('device.confirm.title') }).waitFor();
    assert.equal(await page.locator('.client-name').textContent(), 'Wallet CLI');
    await page.getByRole('button', { name: text('device.confirm.continue') }).click();
    await page.getByRole('button', { name: 'Alpha Wallet' }).click();
    await page.getByRole('button', { name: text('consent.allow') }).click();
    await page.getByRole('heading', { name: text('device.success.title') }).waitFor();
    assert.deepEqual(violations, []);
  }

  /** Chromium's reports of what the CSP refused (no inline script or style on the device pages). */
  function cspViolations(login: Awaited<ReturnType<Harness['open']>>): string[] {
    const violations: string[] = [];
    login.page.on('console', (msg) => void (/Content Security Policy|Refused to/i.test(msg.text()) && violations.push(msg.text())));
    return violations;
  }

  it('prints the claims of the wallet that signed in after the browser opens verification_uri_complete', async () => {
    const { child, script } = runExample(h.server.issuer, clientId);
    children.push(child);
    const complete = await script.line('verification_uri_complete:');
    const userCode = await script.line('user_code:');
    assert.equal(complete, `${h.server.issuer}/device?user_code=${userCode}`);

    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account, info: walletInfo('Alpha Wallet') }] });
    const violations = cspViolations(login);
    await login.page.goto(complete);
    assert.equal(await login.page.locator('#user-code').textContent(), userCode, 'the confirmation page shows the code to compare');
    await confirmAndSignIn(login, violations);

    const { code, stdout, stderr } = await script.done;
    assert.equal(code, 0, stderr);
    assert.equal(claimsOf(stdout).sub, account.address);
  });

  it('prints the claims after the user types the code at verification_uri', async () => {
    const { child, script } = runExample(h.server.issuer, clientId);
    children.push(child);
    const uri = await script.line('verification_uri:');
    const userCode = await script.line('user_code:');

    const account = Wallet.createRandom();
    const login = await h.open({ wallets: [{ account, info: walletInfo('Alpha Wallet') }] });
    const violations = cspViolations(login);
    await login.page.goto(uri);
    await login.page.getByLabel(text('device.input.label')).fill(userCode.toLowerCase());
    await login.page.getByRole('button', { name: text('device.input.continue') }).click();
    await confirmAndSignIn(login, violations);

    const { code, stdout, stderr } = await script.done;
    assert.equal(code, 0, stderr);
    assert.equal(claimsOf(stdout).sub, account.address);
  });

  it('ends with access_denied when the user cancels on the confirmation page', async () => {
    const { child, script } = runExample(h.server.issuer, clientId);
    children.push(child);
    const complete = await script.line('verification_uri_complete:');
    const login = await h.open();
    await login.page.goto(complete);
    await login.page.getByRole('button', { name: text('device.confirm.abort') }).click();
    await login.page.getByText(text('device.problem.aborted')).waitFor();
    const { code, stderr } = await script.done;
    assert.equal(code, 1);
    assert.match(stderr, /Not signed in \(access_denied/);
  });
});
