// The Observer port: what happened, for whoever watches (logs today; metrics subscribe here too).
// Callers report and move on: an observer never throws into a login and never blocks one.
import type { Logger } from './logger.ts';

/** One login attempt's outcome: also the audit row (login_events) the login API writes. */
export interface LoginEvent {
  at: Date;
  outcome: 'success' | 'refused';
  /** The reason code of a refusal (src/errors.ts REASONS). */
  reason?: string | undefined;
  interactionUid?: string | undefined;
  clientId?: string | undefined;
  address?: string | undefined;
  chainId?: number | undefined;
  sub?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** Signed on another device through a login page's handoff link: the IP and user agent are that device's. */
  handoff?: boolean | undefined;
}

/** Something oidc-provider reported that nobody asked for: a bug in a request, a failed back-channel logout. */
export interface ProviderProblem {
  kind: 'server_error' | 'backchannel_error';
  err: unknown;
  clientId?: string | undefined;
  uri?: string | undefined;
}

export interface Observer {
  login(event: LoginEvent): void;
  providerProblem(problem: ProviderProblem): void;
}

/** Every observer sees every report; one that throws is skipped, not the others. */
export function combineObservers(...observers: Observer[]): Observer {
  const each =
    <K extends keyof Observer>(method: K) =>
    (arg: Parameters<Observer[K]>[0]) => {
      for (const o of observers) {
        try {
          (o[method] as (a: typeof arg) => void)(arg);
        } catch {
          // An observer's failure must never change a login's answer.
        }
      }
    };
  return { login: each('login'), providerProblem: each('providerProblem') };
}

/** The default subscriber: one log line per login outcome (no token, signature or cookie), and provider problems. */
export function createLogObserver(logger: Logger): Observer {
  return {
    login(e) {
      const fields = { outcome: e.outcome, reason: e.reason, clientId: e.clientId, address: e.address, chainId: e.chainId, sub: e.sub, ip: e.ip };
      logger.info(fields, e.outcome === 'success' ? 'login succeeded' : 'login refused');
    },
    providerProblem(p) {
      if (p.kind === 'server_error') logger.error({ err: p.err }, 'oidc-provider server_error');
      // A back-channel logout that fails (RP down, host blocked by the outbound guard) is otherwise silent.
      else logger.warn({ err: p.err, clientId: p.clientId, uri: p.uri }, 'back-channel logout failed');
    },
  };
}
