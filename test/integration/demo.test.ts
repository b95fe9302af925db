// `npm run demo` (demo/): wallet-oidc and the demo relying party in one process. A wallet logs in
// through the RP as a browser would (a cookie jar, redirects, the login contract), the client is
// reused across starts, a cancelled login shows access_denied, a busy port names its variable,
// and the process started as `npm run demo` starts it stops cleanly on SIGINT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { startDemo, type Demo } from '../../demo/index.ts';
import { createAgent, followToClient, signIn, startLogin, type Agent, type TestWallet } from '../helpers/login.ts';
import { ROOT } from '../helpers/process.ts';

const TIMEOUT = 180_000;

/** A fresh PGlite directory for one test, removed afterwards. */
async function withDataDir(fn: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'wallet-oidc-demo-'));
  try {
    await fn(dataDir);
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** What the demo reads instead of process.env and `.env`: any free ports, the test's data directory. */
const demoEnv = (dataDir: string, extra: Record<string, string> = {}) => ({
  DATA_DIR: dataDir,
  PORT: '0',
  DEMO_PORT: '0',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  ...extra,
});

/** GET the RP's /login, as the button does: returns the interaction uid wallet-oidc sends the browser to. */
async function startAtRp(agent: Agent, demo: Demo): Promise<string> {
  const res = await agent.fetch(`${demo.rpUrl}/login`, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = res.headers.get('location')!;
  assert.ok(location.startsWith(`${demo.issuer}/auth?`), location);
  return startLogin(agent, location);
}

/** Opens the RP's callback URL and reads its page: the ID token claims table and the userinfo JSON. */
async function openCallback(agent: Agent, demo: Demo, callback: URL) {
  assert.equal(`${callback.origin}${callback.pathname}`, `${demo.rpUrl}/callback`);
  const res = await agent.fetch(callback, { redirect: 'manual' });
  const page = await res.text();
  const unescape = (s: string) => s.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  const claims = Object.fromEntries(
    [...page.matchAll(/<tr>\s*<th>([^<]*)<\/th>\s*<td>([^<]*)<\/td>\s*<\/tr>/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]),
  );
  const userinfo = page.match(/<pre id="userinfo">([^<]*)<\/pre>/)?.[1];
  return { status: res.status, page, claims, userinfo: userinfo === undefined ? undefined : JSON.parse(unescape(userinfo)) };
}

/** A whole wallet login through the RP: /login → interaction → signature → (consent) → /callback. */
async function walletLogin(agent: Agent, demo: Demo, wallet: TestWallet) {
  const uid = await startAtRp(agent, demo);
  return openCallback(agent, demo, await followToClient(agent, await signIn(agent, uid, wallet)));
}

function assertLoggedIn(result: Awaited<ReturnType<typeof openCallback>>, demo: Demo, wallet: TestWallet) {
  assert.equal(result.status, 200, result.page);
  assert.equal(result.claims.sub, wallet.address);
  assert.equal(result.claims.iss, demo.issuer);
  assert.equal(result.claims.aud, demo.clientId);
  assert.equal(result.claims.preferred_username, wallet.address);
  assert.deepEqual(result.userinfo, {
    sub: wallet.address,
    wallet_type: 'eoa',
    preferred_username: wallet.address,
    name: `${wallet.address.slice(0, 6)}…${wallet.address.slice(-4)}`,
  });
  assert.match(result.page, /<a [^>]*href="\/login"[^>]*>Log in again<\/a>/);
}

describe('npm run demo', () => {
  it('logs a wallet in through the demo RP and shows the ID token claims and userinfo', { timeout: TIMEOUT }, () =>
    withDataDir(async (dataDir) => {
      const demo = await startDemo(demoEnv(dataDir));
      try {
        const home = await fetch(demo.rpUrl);
        assert.equal(home.status, 200);
        assert.match(await home.text(), /<a [^>]*href="\/login"[^>]*>Log in with wallet<\/a>/);

        const agent = createAgent(demo.issuer);
        const wallet = Wallet.createRandom();
        assertLoggedIn(await walletLogin(agent, demo, wallet), demo, wallet);

        // "Log in again": wallet-oidc's session and the grant answer at once, without a new signature.
        const again = await agent.fetch(`${demo.rpUrl}/login`, { redirect: 'manual' });
        assertLoggedIn(await openCallback(agent, demo, await followToClient(agent, again.headers.get('location')!, { consent: false })), demo, wallet);

        // A callback that no /login of this browser started is refused plainly.
        const stray = await openCallback(createAgent(demo.issuer), demo, new URL(`${demo.rpUrl}/callback?code=x&state=y`));
        assert.equal(stray.status, 400);
        assert.match(stray.page, /No login in progress/);
      } finally {
        await demo.close();
      }
    }),
  );

  it('reuses its client on the next start: one client in the store, and logins still work', { timeout: TIMEOUT }, () =>
    withDataDir(async (dataDir) => {
      const first = await startDemo(demoEnv(dataDir));
      const clientId = first.clientId;
      await first.close();

      const second = await startDemo(demoEnv(dataDir));
      try {
        assert.equal(second.clientId, clientId);
        const clients = await second.ctx.stores.clients.list();
        assert.equal(clients.length, 1);
        assert.equal(clients[0]!.client_name, 'wallet-oidc demo');
        assert.equal(clients[0]!.token_endpoint_auth_method, 'client_secret_post');
        // DEMO_PORT=0 took another port: the redirect URI followed it.
        assert.deepEqual(clients[0]!.redirect_uris, [`${second.rpUrl}/callback`]);

        const wallet = Wallet.createRandom();
        assertLoggedIn(await walletLogin(createAgent(second.issuer), second, wallet), second, wallet);
      } finally {
        await second.close();
      }
    }),
  );

  it('shows a cancelled login as access_denied, not as a failure', { timeout: TIMEOUT }, () =>
    withDataDir(async (dataDir) => {
      const demo = await startDemo(demoEnv(dataDir));
      try {
        const agent = createAgent(demo.issuer);
        const uid = await startAtRp(agent, demo);
        // The login page's "Cancel" link.
        const callback = await followToClient(agent, `/interaction/${uid}/abort`);
        assert.equal(callback.searchParams.get('error'), 'access_denied');
        const result = await openCallback(agent, demo, callback);
        assert.equal(result.status, 200);
        assert.match(result.page, /<h1>Login cancelled<\/h1>/);
        assert.match(result.page, /access_denied/);
        assert.doesNotMatch(result.page, /\bat .*\.(ts|js):\d+/);
        assert.match(result.page, /Log in again/);
      } finally {
        await demo.close();
      }
    }),
  );

  it('names the variable to change when a port is in use', { timeout: TIMEOUT }, () =>
    withDataDir(async (dataDir) => {
      const blocker = net.createServer().listen(0);
      await once(blocker, 'listening');
      const busy = String((blocker.address() as net.AddressInfo).port);
      try {
        await assert.rejects(startDemo(demoEnv(dataDir, { DEMO_PORT: busy })), new RegExp(`port ${busy} is already in use: set DEMO_PORT to a free port`));
        await assert.rejects(startDemo(demoEnv(dataDir, { PORT: busy })), new RegExp(`port ${busy} is already in use: set PORT to a free port`));
        await assert.rejects(startDemo(demoEnv(dataDir, { DEMO_PORT: 'x' })), /DEMO_PORT: must be a whole number/);
      } finally {
        blocker.close();
      }
    }),
  );

  it('runs as `npm run demo` does: prints where to go, serves the RP, stops on SIGINT', { timeout: TIMEOUT }, () =>
    withDataDir(async (dataDir) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const key of ['DATABASE_URL', 'NODE_ENV', 'ISSUER', 'HOST', 'COOKIE_KEYS', 'ENCRYPTION_KEY', 'DEMO_PORT']) delete env[key];
      // cwd is the data directory, so no `.env` of the checkout applies.
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'demo/main.ts')], {
        cwd: dataDir,
        env: { ...env, ...demoEnv(dataDir) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = once(child, 'exit');
      try {
        const rpUrl = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "open http://localhost:…" line within 150 s:\n${out}`)), 150_000);
          const check = () => {
            const match = out.match(/open (http:\/\/localhost:\d+) and click "Log in with wallet"/);
            if (match) {
              clearTimeout(timer);
              resolve(match[1]!);
            }
          };
          child.stdout.on('data', check);
          void exited.then(([code]) => {
            clearTimeout(timer);
            reject(new Error(`the demo exited with ${code}:\n${out}`));
          });
        });
        const home = await fetch(rpUrl);
        assert.equal(home.status, 200);
        assert.match(await home.text(), /Log in with wallet/);
      } finally {
        child.kill('SIGINT');
      }
      const [code] = await exited;
      assert.equal(code, 0, out);
      assert.match(out, /wallet-oidc demo: stopping/);
    }),
  );
});
