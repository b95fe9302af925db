// A JSON-RPC proxy between the server (its RPC_URLS entry) and the local chain (chain.ts), to make the node slow
// or unreachable while it keeps running for the test's own calls: `hold` keeps calls unanswered until the test
// releases them, `cut` drops every request's connection unanswered (as a node that is down), `restore` ends that.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RpcProxy {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** The JSON-RPC method of every request that reached the proxy, forwarded or not, in order. */
  readonly methods: readonly string[];
  /** Holds every call from now on; `arrived` resolves when the first one comes, `release` lets all through. */
  hold(): { arrived: Promise<void>; release(): void };
  /** Drops every request from now on without an answer. */
  cut(): void;
  restore(): void;
  /** Releases any hold and restores: what a test left, the next one does not inherit. */
  reset(): void;
  close(): Promise<void>;
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  const methods: string[] = [];
  let cut = false;
  let held: { gate: Promise<void>; arrive(): void; release(): void } | undefined;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const calls = [JSON.parse(body) as { method?: string } | { method?: string }[]].flat();
    methods.push(...calls.map((c) => String(c.method)));
    if (cut) return void req.socket.destroy();
    if (held) {
      held.arrive();
      await held.gate;
    }
    try {
      const answer = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(await answer.text());
    } catch {
      req.socket.destroy(); // the node itself is gone: so is the answer
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const reset = () => {
    held?.release();
    held = undefined;
    cut = false;
  };

  return {
    url: `http://127.0.0.1:${port}/`,
    get methods() {
      return methods;
    },
    hold() {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let arrive!: () => void;
      const arrived = new Promise<void>((resolve) => (arrive = resolve));
      held = { gate, arrive, release };
      return {
        arrived,
        release() {
          held = undefined;
          release();
        },
      };
    },
    cut: () => void (cut = true),
    restore: () => void (cut = false),
    reset,
    async close() {
      reset();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
