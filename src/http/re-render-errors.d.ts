// Types for the errors oidc-provider re-renders the user-code page with (lib/helpers/re_render_errors.js); it ships no types for them.
declare module 'oidc-provider/lib/helpers/re_render_errors.js' {
  export class ReRenderError extends Error {
    userCode?: string;
  }
  export class NotFoundError extends ReRenderError {}
  export class ExpiredError extends ReRenderError {}
  export class AlreadyUsedError extends ReRenderError {}
  export class AbortedError extends ReRenderError {}
  export class NoCodeError extends ReRenderError {}
}
