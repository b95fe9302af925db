// A relying party built with openid-client v6 against the test server: a registered client,
// its discovered configuration, and authorization requests with PKCE S256, state and nonce.
import * as oidc from 'openid-client';
import type { ClientMetadata } from 'oidc-provider';
import { REDIRECT_URI, type TestServer } from './server.ts';

export async function createOpenidClient(
  server: TestServer,
  metadata: Partial<ClientMetadata> = {},
  auth: (secret: string) => oidc.ClientAuth = oidc.ClientSecretPost,
) {
  const client = await server.addClient(metadata);
  // openid-client expects RS256 ID tokens unless the client's metadata names another alg.
  const alg = client.id_token_signed_response_alg;
  const config = await oidc.discovery(
    new URL(server.issuer),
    client.client_id,
    alg ? { id_token_signed_response_alg: alg } : undefined,
    auth(client.client_secret ?? ''),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  /** An authorization request and the checks to apply to its callback. */
  const authorize = async (params: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...params,
    });
    return { url, checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce } };
  };
  return { client, config, authorize };
}
