// The load generator: complete logins (authorize → challenge → sign → verify → consent → code →
// token → userinfo), each with a new wallet, every step's status checked. Run as its own process by
// bench/run.ts; prints one JSON line of results.
import { createHash, randomBytes } from 'node:crypto';
import { Wallet } from 'ethers';

interface Options {
  /** Where to send requests: plain http on loopback, as a TLS-terminating proxy would. */
  issuer: string;
  /** The configured (https) issuer, whose URLs in redirects are mapped back to `issuer`. */
  publicIssuer?: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  mode: 'login' | 'discovery' | 'jwks';
  concurrency: number;
  count: number;
  maxSeconds: number;
}

const opts = JSON.parse(process.argv[2]!) as Options;

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

async function login(): Promise<void> {
  const { issuer } = opts;
  const jar = new Jar();
  const wallet = new Wallet(`0x${randomBytes(32).toString('hex')}`);
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
    { method: 'POST', headers: json, body: JSON.stringify({ address: wallet.address, chainId: 1 }) },
    200,
    'challenge',
  );
  const { message } = (await res.json()) as { message: string };
  const signature = await wallet.signMessage(message);
  res = await step(jar, `${issuer}/interaction/${uid}/verify`, { method: 'POST', headers: json, body: JSON.stringify({ message, signature }) }, 200, 'verify');
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
  if (userinfo.sub !== wallet.address) throw new StepError(`userinfo: sub ${userinfo.sub} is not ${wallet.address}`);
}

async function fetchStatic(): Promise<void> {
  const path = opts.mode === 'discovery' ? '/.well-known/openid-configuration' : '/jwks';
  const res = await fetch(`${opts.issuer}${path}`);
  if (res.status !== 200) throw new StepError(`${path}: ${res.status}`);
  await res.arrayBuffer();
}

async function main(): Promise<void> {
  const task = opts.mode === 'login' ? login : fetchStatic;
  const latencies: number[] = [];
  const errors: string[] = [];
  let started = 0;
  const deadline = performance.now() + opts.maxSeconds * 1000;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (started < opts.count && performance.now() < deadline) {
        started++;
        const t = performance.now();
        try {
          await task();
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
    `${JSON.stringify({ completed: latencies.length, errors: errors.length, errorSamples: errors.slice(0, 5), latencies, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
  );
}

await main();
