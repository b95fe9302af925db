// Stateless replicas behind a real load balancer: three server processes on one Postgres database behind Debian's
// HAProxy (round-robin per request, health checks on /readyz), and streams of complete logins through it (authorization,
// SIWE signature, consent, code, token, userinfo), each request of a login landing on any instance. One instance is
// killed mid-run: the only logins that fail are those with a request in flight on it. One is restarted gracefully
// (SIGTERM, drain, start again on its port): no login fails, and HAProxy took it out because /readyz said so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import type { StoredClient } from '../../src/oidc/ports.ts';
import { createPostgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { haproxyInstalled, REQUEST_ID_HEADER, startHaproxy, type Haproxy } from '../helpers/haproxy.ts';
import { createAgent, loginWithWallet } from '../helpers/login.ts';
import { cli, freePort, startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { relyingParty } from '../helpers/raw-rp.ts';
import { REDIRECT_URI } from '../helpers/server.ts';

const INSTANCES = 3;
const WORKERS = 4;
/** Logins per run; the fault comes once `FAULT_AFTER` of them have succeeded, so it lands mid-run. */
const LOGINS = 40;
const FAULT_AFTER = 10;
/** Seconds a stopping instance keeps serving with /readyz at 503, for HAProxy (checking every 200 ms) to take it out. */
const SHUTDOWN_DELAY = 5;

/** One request as the test saw it: when it started and ended relative to the fault, and who answered. */
interface Sent {
  /** Sent in REQUEST_ID_HEADER: HAProxy's log line for the request names it. */
  id: string;
  login: number;
  what: string;
  status?: number;
  /** The instance HAProxy sent it to and how the request ended there (its log: `SH--`, the server aborted), once the run is over. */
  servedBy?: string;
  termination?: string;
  /** Why no answer came, when none did. */
  error?: string;
  /** Outstanding at some moment between the fault (SIGKILL sent) and the instance's exit. */
  atFault: boolean;
}

interface Outcome {
  login: number;
  ok: boolean;
  /** Started after the faulty instance had exited. */
  afterFault: boolean;
  error?: string;
}

const missing = [
  !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL (a Postgres server)',
  !haproxyInstalled() && 'haproxy (apt-get install haproxy; .ci/run installs it)',
].filter((m): m is string => Boolean(m));
// Locally a missing service skips the suite, naming it; under CI=true it fails (below).
const skip = missing.length && process.env.CI !== 'true' ? `needs ${missing.join(' and ')}` : false;

describe('three instances behind HAProxy on one Postgres', { skip }, () => {
  let db: TestDatabase | undefined;
  let lb: Haproxy | undefined;
  let env: Record<string, string>;
  const instances: ServerProcess[] = [];
  /** Every process an instance slot has had, for its request lines. */
  const history: ServerProcess[][] = [];
  let client: StoredClient;

  const start = async (slot: number, port?: number) => {
    const server = await startServerProcess(env, {}, port);
    instances[slot] = server;
    (history[slot] ??= []).push(server);
    return server;
  };

  before(async () => {
    if (missing.length) throw new Error(`under CI=true this suite must run: missing ${missing.join(' and ')}`);
    db = await createPostgresDatabase(process.env.TEST_DATABASE_URL!);
    // HAProxy's port is the issuer: the instances only know it from ISSUER, and their ports are chosen first.
    const ports = await Promise.all(Array.from({ length: INSTANCES }, () => freePort()));
    lb = await startHaproxy(ports);
    env = {
      ...db.env,
      ISSUER: lb.url,
      TRUST_PROXY: '1',
      COOKIE_KEYS: randomBytes(32).toString('hex'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      SHUTDOWN_DELAY: String(SHUTDOWN_DELAY),
      SWEEP_INTERVAL: '0',
    };
    const added = await cli(['clients', 'add', '--redirect-uri', REDIRECT_URI, '--name', 'Scale', '--json'], env);
    assert.equal(added.code, 0, added.stderr);
    client = JSON.parse(added.stdout) as StoredClient;
    await Promise.all(ports.map((port, slot) => start(slot, port)));
    for (const server of lb.servers) await lb.waitFor(server, 'UP');
  });

  after(async () => {
    await Promise.all(instances.map((server) => server?.stop()));
    await lb?.stop();
    await db?.drop();
  });

  /**
   * Runs complete logins through the load balancer, `WORKERS` at a time, until `LOGINS` have been tried and `fault`
   * (started once `FAULT_AFTER` logins have succeeded) has finished. Every request is recorded.
   */
  async function run(fault: (mark: { begin(): void; end(): void }) => Promise<void>) {
    const rp = relyingParty({ issuer: lb!.url });
    const sent: Sent[] = [];
    const outstanding = new Set<Sent>();
    let phase: 'before' | 'during' | 'after' = 'before';
    const mark = {
      // Everything outstanding now, and everything sent until end(), may meet the fault.
      begin: () => {
        phase = 'during';
        for (const s of outstanding) s.atFault = true;
      },
      end: () => (phase = 'after'),
    };
    const trackedFetch =
      (login: number): typeof fetch =>
      async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input);
        const s: Sent = { id: String(sent.length), login, what: `${init?.method ?? 'GET'} ${url.pathname}`, atFault: phase === 'during' };
        sent.push(s);
        outstanding.add(s);
        const headers = new Headers(init?.headers);
        headers.set(REQUEST_ID_HEADER, s.id);
        try {
          const res = await fetch(input, { ...init, headers });
          s.status = res.status;
          return res;
        } catch (err) {
          s.error = String((err as Error).cause ?? err);
          throw err;
        } finally {
          outstanding.delete(s);
        }
      };

    const login = async (n: number): Promise<Outcome> => {
      const afterFault = phase === 'after';
      const http = trackedFetch(n);
      try {
        const { url, verifier } = rp.authorization(client);
        const callback = await loginWithWallet(createAgent(lb!.url, http), url, Wallet.createRandom());
        const token = await http(`${lb!.url}/token`, {
          method: 'POST',
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: callback.searchParams.get('code')!,
            redirect_uri: REDIRECT_URI,
            code_verifier: verifier,
            client_id: client.client_id,
            client_secret: client.client_secret!,
          }),
        });
        const tokens = (await token.json()) as { access_token?: string };
        if (token.status !== 200) throw new Error(`token: ${token.status} ${JSON.stringify(tokens)}`);
        const userinfo = await http(`${lb!.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        await userinfo.arrayBuffer();
        if (userinfo.status !== 200) throw new Error(`userinfo: ${userinfo.status}`);
        return { login: n, ok: true, afterFault };
      } catch (err) {
        return { login: n, ok: false, afterFault, error: (err as Error).message };
      }
    };

    const outcomes: Outcome[] = [];
    let next = 0;
    let succeeded = 0;
    let faultDone = false;
    let triggerFault!: () => void;
    const faultDue = new Promise<void>((resolve) => (triggerFault = resolve));
    const faulted = faultDue.then(() => fault(mark)).finally(() => (faultDone = true));
    const worker = async () => {
      // Logins go on until the fault has run its course (a restarted instance is back UP), however long that takes.
      while (next < LOGINS || !faultDone) {
        const outcome = await login(next++);
        outcomes.push(outcome);
        if (outcome.ok && ++succeeded === FAULT_AFTER) triggerFault();
        if (next >= LOGINS && succeeded < FAULT_AFTER) break; // the fault never came: reported below
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    assert.ok(succeeded >= FAULT_AFTER, `only ${succeeded} logins succeeded before the fault: ${JSON.stringify(outcomes.filter((o) => !o.ok))}`);
    await faulted;
    await lb!.waitForLogged(sent.map((s) => s.id));
    const logged = lb!.requests();
    for (const s of sent) Object.assign(s, { servedBy: logged.get(s.id)?.server, termination: logged.get(s.id)?.termination });
    return { outcomes, sent };
  }

  /** Request lines each slot's processes wrote (our routes and oidc-provider's), from their logs. */
  const requestsServed = () =>
    history.map(
      (processes) =>
        processes.flatMap((p) => p.output().split('\n')).filter((line) => line.includes('"msg":"request"') && !line.includes('"route":"/readyz"')).length,
    );

  it('spreads a run of logins over the three instances, and loses only the logins with a request in flight on one killed mid-run', async () => {
    const victim = 1;
    const victimName = lb!.servers[victim]!;
    const port = instances[victim]!.port;
    const { outcomes, sent } = await run(async (mark) => {
      const child = instances[victim]!.child;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await lb!.waitForBusy(victimName);
      mark.begin();
      child.kill('SIGKILL');
      await exited;
      mark.end();
      // Back on its port, so the next run has three instances again.
      await start(victim, port);
      await lb!.waitFor(victimName, 'UP');
    });

    const served = requestsServed();
    assert.ok(
      served.every((n) => n > 0),
      `every instance served requests: ${served.join(', ')}`,
    );
    const failed = outcomes.filter((o) => !o.ok);
    const inFlightOnVictim = sent.filter((s) => s.atFault && s.servedBy === victimName);
    const failedRequests = sent.filter((s) => s.status === undefined || s.status >= 500);
    for (const request of failedRequests) {
      assert.ok(request.atFault, `a request failed that was not in flight when the instance was killed: ${JSON.stringify(request)}`);
      assert.equal(request.servedBy, victimName, `a failed request was sent to another instance: ${JSON.stringify(request)}`);
    }
    for (const outcome of failed) {
      assert.ok(
        failedRequests.some((r) => r.login === outcome.login),
        `login ${outcome.login} failed without a request lost on the killed instance: ${outcome.error}`,
      );
    }
    assert.ok(failed.length <= inFlightOnVictim.length, `${failed.length} failed logins, ${inFlightOnVictim.length} requests in flight on it`);
    assert.ok(
      outcomes.filter((o) => o.afterFault).every((o) => o.ok),
      'every login started after the kill succeeded',
    );
    console.log(
      `# killed mid-run: ${outcomes.length} logins (${sent.length} requests; per instance ${served.join('/')}), ` +
        `${failed.length} failed, ${inFlightOnVictim.length} requests were in flight on the killed instance; lost: ` +
        failedRequests.map((r) => `${r.what.replace(/\/interaction\/[^/]+/, '/interaction/:uid')} ${r.status ?? r.error} ${r.termination}`).join(', '),
    );
  });

  it('loses no login while an instance is restarted gracefully (SIGTERM, drain, start again on its port)', async () => {
    const slot = 2;
    const name = lb!.servers[slot]!;
    const before = requestsServed()[slot]!;
    let exitCode: number | null | undefined;
    let readiness: unknown;
    let inFlightAtSignal: unknown;
    const { outcomes, sent } = await run(async (mark) => {
      const stopping = instances[slot]!;
      const { port } = stopping;
      await lb!.waitForBusy(name);
      mark.begin();
      const signalled = waitForLine(stopping, 'shutting down');
      const code = stopping.stop();
      const line = await signalled;
      inFlightAtSignal = line.inFlight;
      // While it drains, it says why it is not ready; HAProxy sees that and takes it out before the listener closes.
      readiness = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        async (probe) => [probe.status, await probe.json()],
        (err: Error) => `no answer: ${String(err.cause ?? err)}`,
      );
      exitCode = await code;
      mark.end();
      await start(slot, port);
      await lb!.waitFor(name, 'UP');
    });

    const failed = outcomes.filter((o) => !o.ok);
    assert.deepEqual(failed, [], 'no login failed');
    assert.equal(exitCode, 0, history[slot]!.at(-2)!.output());
    assert.deepEqual(readiness, [503, { status: 'unavailable', error: 'shutting_down' }]);
    assert.match(
      lb!.output(),
      new RegExp(`Server servers/${name} is DOWN, reason: Layer7 wrong status, code: 503`),
      'taken out by its /readyz, not by a refused connection',
    );
    assert.ok(requestsServed()[slot]! > before, 'the instance served again after its restart');
    console.log(
      `# graceful restart: ${outcomes.length} logins (${sent.length} requests), ${failed.length} failed; ${String(inFlightAtSignal)} in flight at SIGTERM`,
    );
  });
});

/** Resolves with the first JSON log line whose msg is `msg`, polling the process's output as it grows. */
async function waitForLine(server: ServerProcess, msg: string, ceilingMs = 120_000): Promise<Record<string, unknown>> {
  const find = () =>
    server
      .output()
      .split('\n')
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .find((entry) => entry?.msg === msg);
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = find();
      if (found) return done(() => resolve(found));
      if (server.child.exitCode !== null) done(() => reject(new Error(`exited before "${msg}":\n${server.output()}`)));
    };
    const done = (settle: () => void) => {
      server.child.stdout!.off('data', check);
      clearTimeout(timer);
      settle();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no "${msg}" after ${ceilingMs / 1000} s:\n${server.output()}`))), ceilingMs);
    server.child.stdout!.on('data', check);
    check();
  });
}
