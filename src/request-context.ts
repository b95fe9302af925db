// The request being answered: its id, route and client, for every log line written while answering it.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestInfo {
  requestId: string;
  /** The route template (`/interaction/:uid/verify`) or oidc-provider's route name (`token`); never the raw path. */
  route?: string | undefined;
  /** The client the request is for, once a route knows it. */
  clientId?: string | undefined;
}

const storage = new AsyncLocalStorage<RequestInfo>();

/** The request whose handling is running now, if any. */
export function currentRequest(): RequestInfo | undefined {
  return storage.getStore();
}

export function runInRequest<T>(info: RequestInfo, fn: () => T): T {
  return storage.run(info, fn);
}

/** Names the client on the request's log line. */
export function noteRequestClient(clientId: string | undefined): void {
  const info = storage.getStore();
  if (info && clientId) info.clientId = clientId;
}
