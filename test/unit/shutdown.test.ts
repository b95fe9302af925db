// The HTTP drain (src/http/shutdown.ts) on a real node:http server and real sockets: a request in flight finishes,
// answered with Connection: close; the listener closes (after the delay, while which requests are still served);
// drain() resolves only once the last connection is gone.
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createShutdown } from '../../src/http/shutdown.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A server whose every request waits until the test releases it; `arrived` resolves as each one reaches the handler. */
async function setup() {
  const shutdown = createShutdown();
  const waiting: (() => void)[] = [];
  let onArrival: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    // /stream sends its headers and a first part at once, the rest when released.
    if (req.url === '/stream') res.writeHead(200).write('part');
    waiting.push(() => res.end('done'));
    onArrival?.();
  });
  // Idle keep-alive connections would otherwise close by themselves after 5 s, hiding a drain that forgot them.
  server.keepAliveTimeout = 3_600_000;
  shutdown.watch(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Keep-alive, as browsers and proxies connect: an answer without Connection: close leaves the socket open.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (path = '/') =>
    new Promise<Answer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        })
        .on('error', reject);
    });
  const arrival = () => new Promise<void>((resolve) => (onArrival = resolve));
  const release = () => waiting.splice(0).forEach((answer) => answer());
  const refused = () =>
    new Promise<boolean>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, agent: false }, (res) => resolve(res.resume() && false))
        .on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
  return { shutdown, server, agent, request, arrival, release, refused };
}

describe('createShutdown', () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => {
    cleanup?.();
    cleanup = undefined;
  });

  it('lets a request in flight finish, answered with Connection: close, and resolves only after it', async () => {
    const { shutdown, server, agent, request, arrival, release, refused } = await setup();
    cleanup = () => (server.closeAllConnections(), agent.destroy());
    const arrived = arrival();
    const inFlight = request();
    await arrived;
    assert.equal(shutdown.inFlight, 1);
    let drained = false;
    const drain = shutdown.drain(0).then(() => (drained = true));
    assert.equal(shutdown.draining, true, 'readiness flips at once');
    assert.equal(await refused(), true, 'the listener is closed: new connections are refused');
    assert.equal(drained, false, 'the drain waits for the request in flight');
    release();
    const answer = await inFlight;
    assert.deepEqual([answer.status, answer.body, answer.headers.connection], [200, 'done', 'close']);
    await drain;
    assert.equal(shutdown.inFlight, 0);
  });

  it('closes a keep-alive connection whose answer began before the drain once that answer ends', { timeout: 60_000 }, async () => {
    const { shutdown, server, agent, request, arrival, release } = await setup();
    cleanup = () => (server.closeAllConnections(), agent.destroy());
    const arrived = arrival();
    const inFlight = request('/stream');
    await arrived;
    // Its headers are out (keep-alive): too late to say Connection: close.
    const drain = shutdown.drain(0);
    release();
    const answer = await inFlight;
    assert.deepEqual([answer.body, answer.headers.connection], ['partdone', 'keep-alive']);
    // The keep-alive timeout is an hour here (setup): only the drain's own close ends the connection in time.
    await drain;
  });

  it('closes a connection that never sent a request (a preconnect) once no request is in flight', { timeout: 60_000 }, async () => {
    const { shutdown, server, agent, request, arrival, release } = await setup();
    // Node would end the silent connection after its headers timeout: an hour here, so only the drain can end it in time.
    server.requestTimeout = 3_600_000;
    server.headersTimeout = 3_600_000;
    const { port } = server.address() as AddressInfo;
    const preconnect = net.connect(port, '127.0.0.1');
    cleanup = () => (server.closeAllConnections(), agent.destroy(), preconnect.destroy());
    await new Promise((resolve) => preconnect.once('connect', resolve));
    const ended = new Promise((resolve) => preconnect.once('close', resolve));
    const arrived = arrival();
    const inFlight = request();
    await arrived;
    let drained = false;
    const drain = shutdown.drain(0).then(() => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(preconnect.destroyed, false, 'kept while a request is in flight');
    assert.equal(drained, false);
    release();
    assert.equal((await inFlight).body, 'done');
    await drain;
    await ended;
  });

  it('keeps serving during the delay, each answer with Connection: close, then closes the listener', async (t) => {
    const { shutdown, server, agent, request, arrival, release, refused } = await setup();
    cleanup = () => (server.closeAllConnections(), agent.destroy());
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let drained = false;
    const drain = shutdown.drain(60_000).then(() => (drained = true));
    const arrived = arrival();
    const during = request();
    await arrived;
    release();
    const answer = await during;
    assert.deepEqual([answer.status, answer.headers.connection], [200, 'close'], 'served during the delay, its connection closed after it');
    assert.equal(drained, false);
    t.mock.timers.tick(60_000);
    await drain;
    assert.equal(await refused(), true, 'the listener closed when the delay ended');
  });
});
