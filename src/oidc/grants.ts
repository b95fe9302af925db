// Grants: what a user allowed a client. Built in two places that must agree: on the consent page's
// Allow (grantForConsent), and without a page for first-party clients (loadExistingGrant).
import type { Interaction, KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';

type MissingConsent = { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };

/**
 * Consent for clients that skip it (docs: "Disabling the consent checks"): a grant of exactly what
 * was requested, kept on the existing grant when there is one.
 */
export async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const session = oidc.session!;
  const grantId = (oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!client.metadata().skip_consent) return existing;
  const grant = existing ?? new oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
  grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

/** The scopes and claims the consent prompt asks the user for (oidc-provider's prompt details). */
export function missingConsent(interaction: Interaction): { scopes: string[]; claims: string[] } {
  const missing = interaction.prompt.details as MissingConsent;
  return { scopes: missing.missingOIDCScope ?? [], claims: missing.missingOIDCClaims ?? [] };
}

/**
 * The user allowed what the consent page listed: adds it to the interaction's grant and saves it.
 * A grant that expired while the user read the page is replaced, not a 500; the prompt only listed
 * what it lacked, so the new one also takes everything this request asks for.
 */
export async function grantForConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const { session, params, grantId: existingGrantId } = interaction;
  const existing = existingGrantId ? await provider.Grant.find(existingGrantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  if (existingGrantId && !existing && typeof params.scope === 'string') grant.addOIDCScope(params.scope);
  const { scopes, claims } = missingConsent(interaction);
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  if (claims.length) grant.addOIDCClaims(claims);
  return grant.save();
}
