// The one gate for malformed input. What no valid request can hold (NUL and other control characters,
// invalid UTF-8 or percent-encoding, a compressed body) is refused with 400 invalid_request before a
// route, oidc-provider or the database sees it: the target and query of every request here, the
// form body and Authorization header of protocol requests in `checkProtocolInput`, and the parsed
// bodies of our own routes in `checkParsedBody`.
import type { Middleware } from 'koa';
import { AppError } from '../errors.ts';
import { sendJsonError, toAppError } from './errors.ts';

/** C0 controls and DEL. Values may hold HT, LF and CR (a pretty-printed `claims` JSON, a SIWE message). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_IN_VALUE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A surrogate without its pair: what a JSON `\ud800` decodes to; no UTF-8 can encode it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** RFC 6750 §2.1 b64token. */
const BEARER = /^Bearer [A-Za-z0-9\-._~+/]+=*$/i;

const refuse = (description: string) => new AppError('invalid_request', description);

function decode(component: string, where: string): string {
  try {
    // Strict: throws on a stray `%`, and on percent-encoded bytes that are not UTF-8 (overlong forms, surrogates).
    return decodeURIComponent(component);
  } catch {
    throw refuse(`${where} is not valid percent-encoded UTF-8`);
  }
}

/** application/x-www-form-urlencoded (a query string, a form body): every name and value decodes and holds no control. */
export function checkFormEncoded(text: string, where: string): void {
  for (const pair of text.split('&')) {
    for (const part of pair.split('=', 2)) {
      if (CONTROL_IN_VALUE.test(decode(part.replace(/\+/g, ' '), where))) throw refuse(`${where} holds a control character`);
    }
  }
}

/** Strings in a parsed JSON or form body: no control but HT, LF and CR, no lone surrogate (a JSON `\ud800`). */
export function checkParsedBody(value: unknown, depth = 0): void {
  if (typeof value === 'string') {
    if (CONTROL_IN_VALUE.test(value) || LONE_SURROGATE.test(value)) throw refuse('the request body holds a control character or an unpaired surrogate');
  } else if (value && typeof value === 'object' && depth < 32) {
    for (const [key, item] of Object.entries(value)) {
      checkParsedBody(key, depth + 1);
      checkParsedBody(item, depth + 1);
    }
  }
}

/** What only protocol requests carry: a form body oidc-provider parses, client credentials or a bearer token. */
export function checkProtocolInput(authorization: string | undefined, body: Buffer | undefined): void {
  if (body) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw refuse('the request body is not UTF-8');
    }
    checkFormEncoded(text, 'the request body');
  }
  if (!authorization) return;
  if (/^basic /i.test(authorization)) {
    let credentials: string;
    try {
      credentials = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(authorization.slice(6), 'base64'));
    } catch {
      throw refuse('the Authorization header is not UTF-8');
    }
    // Percent-decoding (RFC 6749 §2.3.1) is oidc-provider's, with its own invalid_request; a NUL hides either way.
    let decoded = credentials;
    try {
      decoded = decodeURIComponent(credentials.replace(/\+/g, ' '));
    } catch {
      // oidc-provider answers that one itself.
    }
    if (CONTROL.test(credentials) || CONTROL.test(decoded)) throw refuse('the Authorization header holds a control character');
  } else if (/^bearer /i.test(authorization) && !BEARER.test(authorization)) {
    throw refuse('the bearer token holds characters a token never has');
  }
}

/**
 * The gate in front of every route: the request target and the body's coding. It is also the error
 * boundary of what has none of its own (oidc-provider's request reading): an AppError answers
 * `{error, error_description}`, as oidc-provider and our routes do.
 */
export function inputGate(): Middleware {
  return async (ctx, next) => {
    try {
      // Raw bytes outside printable ASCII never get here: Node's parser answers 400 to those itself.
      if (CONTROL.test(decode(ctx.path, 'the path'))) throw refuse('the path holds a control character');
      if (ctx.querystring) checkFormEncoded(ctx.querystring, 'the query');
      // No route reads a compressed body: a coding is refused before anything inflates it (RFC 9110 §8.4).
      const coding = ctx.get('content-encoding').trim().toLowerCase();
      if (coding && coding !== 'identity') throw refuse(`Content-Encoding ${JSON.stringify(coding.slice(0, 40))} is not accepted: send the body uncompressed`);
      await next();
    } catch (err) {
      const appError = toAppError(err);
      if (!appError || ctx.headerSent || ctx.respond === false) throw err;
      sendJsonError(ctx, appError);
    }
  };
}
