// HTTP/1.1 written byte for byte on a socket: fetch and node:http refuse or re-encode what an attacker
// sends (NUL in a header, invalid UTF-8 or percent-encoding in a path), so malformed-input tests use this.
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: no encoding is applied. */
  target: string | Buffer;
  headers?: Record<string, string | Buffer>;
  body?: string | Buffer;
  /** Half-closes the socket after writing: a body shorter than its Content-Length is then cut off, not awaited. */
  end?: boolean;
}

export interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/** Sends one request with `Connection: close` and reads the whole answer. */
export function rawRequest(port: number, req: RawRequest): Promise<RawResponse> {
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  const lines: Buffer[] = [Buffer.concat([Buffer.from(`${req.method} `), Buffer.from(req.target as string), Buffer.from(' HTTP/1.1\r\n')])];
  const headers: Record<string, string | Buffer> = { host: `127.0.0.1:${port}`, connection: 'close', ...req.headers };
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(body.length);
  for (const [name, value] of Object.entries(headers)) lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value as string), Buffer.from('\r\n')]));
  lines.push(Buffer.from('\r\n'));
  if (body) lines.push(body);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Not ended after writing: a half-closed socket makes the server drop an answer it is still writing.
    const socket = net.connect(port, '127.0.0.1', () => (req.end ? socket.end(Buffer.concat(lines)) : socket.write(Buffer.concat(lines))));
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may answer and close before it has read a large request: the answer still counts.
    socket.on('error', (err: NodeJS.ErrnoException) => (chunks.length && err.code === 'ECONNRESET' ? socket.destroy() : reject(err)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!match) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      const rest = text.slice(split + 4);
      resolve({ status: Number(match[1]), headers: head, body: /^transfer-encoding: chunked/im.test(head) ? dechunk(rest) : rest });
    });
  });
}

function dechunk(text: string): string {
  let out = '';
  for (let at = 0; ;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!size) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 4 + size;
  }
}
