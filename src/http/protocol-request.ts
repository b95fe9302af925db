// A request bound for oidc-provider, read once before it: the gate in front of the protocol (rate
// limits, client lockout, input checks) needs its parameters, and oidc-provider must still get the
// same body to parse itself. The body is buffered under oidc-provider's own size limit and handed on
// as a fresh, unread request carrying the original's socket, headers, method and URL.
import { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { AppError } from '../errors.ts';

/** oidc-provider's own limit for a form or JSON body (lib/shared/selective_body.js). */
export const PROTOCOL_BODY_LIMIT = 56 * 1024;

export interface ProtocolRequest {
  /** What oidc-provider is handed: the original request, or a replay of its buffered body. */
  req: IncomingMessage;
  /** The query string, and for form posts the body's parameters after it (the body wins). */
  params: URLSearchParams;
  /** The raw body of a form post; undefined for other requests. */
  body: Buffer | undefined;
}

const read = new WeakMap<Context, Promise<ProtocolRequest>>();

/** The request's parameters and the request to hand oidc-provider; reads the body once per request. */
export function protocolRequest(ctx: Context): Promise<ProtocolRequest> {
  let request = read.get(ctx);
  if (!request) {
    request = readProtocolRequest(ctx);
    read.set(ctx, request);
  }
  return request;
}

async function readProtocolRequest(ctx: Context): Promise<ProtocolRequest> {
  const params = new URLSearchParams(ctx.querystring);
  if (ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded') || ctx.get('content-encoding')) {
    return { req: ctx.req, params, body: undefined };
  }
  const body = await readBody(ctx);
  for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params.set(key, value);
  return { req: replay(ctx.req, body), params, body };
}

async function readBody(ctx: Context): Promise<Buffer> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > PROTOCOL_BODY_LIMIT) throw new AppError('invalid_request', 'the request body is too large');
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of ctx.req) {
      received += (chunk as Buffer).length;
      if (received > PROTOCOL_BODY_LIMIT) throw new AppError('invalid_request', 'the request body is too large');
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('invalid_request', 'the request body could not be read', { cause: err });
  }
  return Buffer.concat(chunks, received);
}

/** A new, unread IncomingMessage with the original's socket, head and the given body. */
function replay(original: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(original.socket);
  copy.method = original.method;
  copy.url = original.url;
  copy.httpVersion = original.httpVersion;
  copy.httpVersionMajor = original.httpVersionMajor;
  copy.httpVersionMinor = original.httpVersionMinor;
  copy.headers = { ...original.headers, 'content-length': String(body.length) };
  delete copy.headers['transfer-encoding'];
  copy.rawHeaders = original.rawHeaders;
  // Complete: destroying a message that is not would destroy the shared socket with it.
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}
