// The device authorization grant's pages (RFC 8628 §3.3), which oidc-provider calls (features.deviceFlow): the user-code
// form and its problems, the confirmation that names the client and the device, and the page that ends the sign-in.
import { AbortedError, AlreadyUsedError, ExpiredError, NoCodeError, NotFoundError } from 'oidc-provider/lib/helpers/re_render_errors.js';
import type { ProviderPages } from '../oidc/provider.ts';
import type { Pages } from './pages.ts';

type DevicePages = Pick<ProviderPages, 'deviceInput' | 'deviceConfirm' | 'deviceSuccess'>;

/** What the input page says about the code just sent, by the error oidc-provider re-renders it with. */
function problemKey(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof NotFoundError) return 'device.problem.notFound';
  if (err instanceof ExpiredError) return 'device.problem.expired';
  if (err instanceof AlreadyUsedError) return 'device.problem.used';
  if (err instanceof NoCodeError) return 'device.problem.noCode';
  if (err instanceof AbortedError) return 'device.problem.aborted';
  return 'device.problem.other';
}

/** A code that cannot be used is the sender's mistake: 400, where oidc-provider answers these with 200. */
const CODE_PROBLEMS = new Set(['device.problem.notFound', 'device.problem.expired', 'device.problem.used', 'device.problem.noCode']);

export function createDevicePages(render: Pages['render'], t: (key: string, values?: Record<string, string>) => string): DevicePages {
  return {
    async deviceInput(ctx, _form, out, err) {
      const key = problemKey(err);
      if (key && CODE_PROBLEMS.has(key)) ctx.status = 400;
      // oidc-provider's own form has an inline onfocus handler, which our CSP refuses: this one carries the same fields.
      // The xsrf value is the secret oidc-provider just put in the session's state for this form (lib/shared/xsrf.js).
      const xsrf = (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret;
      await render(ctx, 'device-input', {
        title: t('device.input.title'),
        action: ctx.oidc.urlFor('code_verification'),
        xsrf,
        userCode: (err as { userCode?: string } | undefined)?.userCode ?? '',
        problem: key && t(key, { description: out?.error_description ?? out?.error ?? '' }),
      });
    },
    async deviceConfirm(ctx, form, client, deviceInfo, userCode) {
      const clientName = client.clientName ?? client.clientId;
      await render(ctx, 'device-confirm', {
        title: t('device.confirm.title'),
        // Hidden fields only (xsrf, user_code, confirm): the buttons below name it with form="op.deviceConfirmForm".
        form,
        clientName,
        clientUri: client.clientUri,
        clientLogoUri: client.logoUri,
        clientPolicyUri: client.policyUri,
        clientTosUri: client.tosUri,
        userCode,
        // What the device sent when it asked for the code (oidc-provider's deviceInfo): the person checks it is theirs.
        ip: typeof deviceInfo.ip === 'string' ? deviceInfo.ip : undefined,
        userAgent: typeof deviceInfo.ua === 'string' ? deviceInfo.ua : undefined,
      });
    },
    async deviceSuccess(ctx) {
      const clientName = ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? '';
      await render(ctx, 'device-success', { title: t('device.success.title'), clientName });
    },
  };
}
