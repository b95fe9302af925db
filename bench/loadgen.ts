// The load generator: complete logins (authorize → challenge → sign → verify → consent → code →
// token → userinfo), each with a new wallet, every step's status checked. The wallet is a fresh EOA, or
// one of the contract wallets a file lists (a Safe its owner signs for, deployed or counterfactual); an
// attempt may instead expect verify's 503 `verifier_unavailable`. Run as its own process by
// bench/run.ts; prints one JSON line of results.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Wallet } from 'ethers';
import { safeSignature, wrap6492 } from '../test/helpers/chain.ts';
import type { ContractWallet } from './contract-wallets.ts';

interface Options {
  /** Where to send requests: plain http on loopback, as a TLS-terminating proxy would. */
  issuer: string;
  /** The configured (https) issuer, whose URLs in redirects are mapped back to `issuer`. */
  publicIssuer?: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  mode: 'login' | 'discovery' | 'jwks';
  /** A JSON file of ContractWallet: one per login, in turn, instead of fresh EOAs. */
  walletsFile?: string;
  /** The chain the wallets sign in on (1 unless given). */
  chainId?: number;
  /** Each attempt ends at verify, which must answer 503 `verifier_unavailable` (the chain's RPC is down). */
  expectUnavailable?: boolean;
  concurrency: number;
  count: number;
  maxSeconds: number;
}

const opts = JSON.parse(process.argv[2]!) as Options;
const chainId = opts.chainId ?? 1;
const contractWallets = opts.walletsFile ? (JSON.parse(fs.readFileSync(opts.walletsFile, 'utf8')) as ContractWallet[]) : undefined;

/**
 * A minimal cookie jar, by name. oidc-provider scopes its cookies by path, and a login only ever
 * needs the newest cookie of each name; a full RFC 6265 jar would spend the load generator's CPU,
 * which the run shares with the server.
 */
class Jar {
  private cookies = new Map<string, string>();
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.slice(0, c.indexOf(';') === -1 ? c.length : c.indexOf(';'));
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

class StepError extends Error {}

const local = (url: string) => (opts.publicIssuer && url.startsWith(opts.publicIssuer) ? opts.issuer + url.slice(opts.publicIssuer.length) : url);

async function step(jar: Jar, url: string, init: RequestInit, expect: number, name: string): Promise<Response> {
  const res = await fetch(local(url), { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } });
  jar.store(res);
  if (res.status !== expect) throw new StepError(`${name}: expected ${expect}, got ${res.status} ${(await res.text()).slice(0, 200)}`);
  return res;
}

const json = { 'content-type': 'application/json', accept: 'application/json' };

/** Who signs in: a fresh EOA, or the n-th contract wallet of the file, its owner signing as the Safe would. */
function signerFor(n: number): { address: string; sub: string; sign(message: string): Promise<string> } {
  // In turn: a run longer than the file signs in with its wallets again.
  const contract = contractWallets?.[n % contractWallets.length];
  if (!contract) {
    const wallet = new Wallet(`0x${randomBytes(32).toString('hex')}`);
    return { address: wallet.address, sub: wallet.address, sign: (message) => wallet.signMessage(message) };
  }
  const owner = new Wallet(contract.ownerKey);
  return {
    address: contract.address,
    sub: `eip155:${chainId}:${contract.address}`,
    async sign(message) {
      const signature = await safeSignature(chainId, contract.address, message, [owner]);
      return contract.deployment ? wrap6492(contract.deployment, signature) : signature;
    },
  };
}

/** One login (or, expecting `verifier_unavailable`, one attempt); returns how long its verify step took. */
async function login(n: number): Promise<number> {
  const { issuer } = opts;
  const jar = new Jar();
  const wallet = signerFor(n);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: opts.clientId,
    redirect_uri: opts.redirectUri,
    response_type: 'code',
    scope: 'openid profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  }).toString();

  let res = await step(jar, auth.href, {}, 303, 'authorize');
  const uid = res.headers.get('location')!.split('/').pop()!;
  res = await step(
    jar,
    `${issuer}/interaction/${uid}/challenge`,
    { method: 'POST', headers: json, body: JSON.stringify({ address: wallet.address, chainId }) },
    200,
    'challenge',
  );
  const { message } = (await res.json()) as { message: string };
  const signature = await wallet.sign(message);
  const verifyStart = performance.now();
  res = await step(
    jar,
    `${issuer}/interaction/${uid}/verify`,
    { method: 'POST', headers: json, body: JSON.stringify({ message, signature }) },
    opts.expectUnavailable ? 503 : 200,
    'verify',
  );
  const verifyMs = performance.now() - verifyStart;
  if (opts.expectUnavailable) {
    const { error } = (await res.json()) as { error: string };
    if (error !== 'verifier_unavailable') throw new StepError(`verify: expected verifier_unavailable, got ${error}`);
    return verifyMs;
  }
  let next = new URL(((await res.json()) as { redirectTo: string }).redirectTo, issuer).href;
  for (let hops = 0; !next.startsWith(opts.redirectUri); hops++) {
    if (hops > 5) throw new StepError('too many redirects');
    const consent = next.match(/\/interaction\/([^/?]+)$/);
    if (consent) {
      res = await step(jar, `${issuer}/interaction/${consent[1]}/confirm`, { method: 'POST', headers: json, body: '{}' }, 200, 'consent');
      next = new URL(((await res.json()) as { redirectTo: string }).redirectTo, issuer).href;
    } else {
      res = await step(jar, next, {}, 303, 'resume');
      next = new URL(res.headers.get('location')!, next).href;
    }
  }
  const code = new URL(next).searchParams.get('code');
  if (!code) throw new StepError(`no code in ${next}`);
  res = await step(
    jar,
    `${issuer}/token`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: opts.redirectUri,
        code_verifier: verifier,
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
      }).toString(),
    },
    200,
    'token',
  );
  const tokens = (await res.json()) as { access_token: string; id_token: string };
  if (!tokens.id_token) throw new StepError('token: no id_token');
  res = await step(jar, `${issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }, 200, 'userinfo');
  const userinfo = (await res.json()) as { sub: string };
  if (userinfo.sub !== wallet.sub) throw new StepError(`userinfo: sub ${userinfo.sub} is not ${wallet.sub}`);
  return verifyMs;
}

async function fetchStatic(): Promise<number> {
  const path = opts.mode === 'discovery' ? '/.well-known/openid-configuration' : '/jwks';
  const res = await fetch(`${opts.issuer}${path}`);
  if (res.status !== 200) throw new StepError(`${path}: ${res.status}`);
  await res.arrayBuffer();
  return 0;
}

async function main(): Promise<void> {
  const task = opts.mode === 'login' ? login : fetchStatic;
  const latencies: number[] = [];
  const verifyLatencies: number[] = [];
  const errors: string[] = [];
  let started = 0;
  const deadline = performance.now() + opts.maxSeconds * 1000;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (started < opts.count && performance.now() < deadline) {
        const n = started++;
        const t = performance.now();
        try {
          verifyLatencies.push(await task(n));
          latencies.push(performance.now() - t);
        } catch (err) {
          errors.push(String((err as Error).message ?? err));
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    `${JSON.stringify({ completed: latencies.length, errors: errors.length, errorSamples: errors.slice(0, 5), latencies, verifyLatencies, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
  );
}

await main();
