// The one source of time: every time our code reads goes through an injected Clock, so tests can move it.
// (oidc-provider keeps its own clock for token lifetimes; see docs/architecture.md.)

export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
