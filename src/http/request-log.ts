// One JSON line per request (pino-http), with a request id that is accepted from our own proxy or made here.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.ts';
import { runInRequest, type RequestInfo } from '../request-context.ts';

/** What a proxy's id may look like: bounded, and nothing that could break a log line or a header. */
const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;
/** Probes answer every few seconds: their lines are at debug, not info. */
export const PROBES = new Set(['/healthz', '/readyz']);

/** The id a trusted proxy sent, when it is well formed; otherwise a new one. */
export function chooseRequestId(header: string | string[] | undefined, trustProxy: boolean): string {
  return trustProxy && typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * Wraps everything, oidc-provider's answers too (written on the raw response): status and duration are
 * read when the response finishes. The line holds the method, route, status, duration, request id and
 * client; never the URL's query, a header, a cookie or a body, where tokens and codes travel.
 */
export function requestLog(logger: Logger, trustProxy: boolean): Middleware {
  const requests = new WeakMap<IncomingMessage, RequestInfo>();
  const fields = (req: IncomingMessage, res: ServerResponse, responseTime: number) => {
    const info = requests.get(req);
    return {
      requestId: info?.requestId,
      method: req.method,
      route: info?.route ?? null,
      status: res.statusCode,
      durationMs: responseTime,
      clientId: info?.clientId,
      // The client went away before the answer was sent.
      ...(res.writableFinished ? {} : { aborted: true }),
    };
  };
  const log = pinoHttp({
    logger,
    // pino-http would bind the whole request (URL with its query, headers) and response to its lines: only our fields go out.
    quietReqLogger: true,
    quietResLogger: true,
    // The id is among the line's fields below; pino-http's own binding of it is dropped, or the key would appear twice.
    customAttributeKeys: { reqId: 'pinoHttpRequestId' },
    serializers: { pinoHttpRequestId: () => undefined },
    wrapSerializers: false,
    genReqId: (req, res) => {
      const id = chooseRequestId(req.headers['x-request-id'], trustProxy);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (req, res, err) => {
      if (PROBES.has(new URL(req.url ?? '/', 'http://x').pathname)) return 'debug';
      return err || res.statusCode >= 500 ? 'warn' : 'info';
    },
    customSuccessObject: (req, res, value: { responseTime: number }) => fields(req, res, value.responseTime),
    customErrorObject: (req, res, _err, value: { responseTime: number }) => fields(req, res, value.responseTime),
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
  });
  return (ctx, next) => {
    log(ctx.req, ctx.res);
    const info: RequestInfo = { requestId: String(ctx.req.id) };
    requests.set(ctx.req, info);
    return runInRequest(info, async () => {
      try {
        await next();
      } finally {
        // Our routers' template; oidc-provider's route name is set by its own middleware (app.ts).
        info.route ??= (ctx as { _matchedRoute?: string })._matchedRoute;
      }
    });
  };
}
