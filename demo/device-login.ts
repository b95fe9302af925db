// A CLI signing in with wallet-oidc through the device authorization grant (RFC 8628), with openid-client v6:
//   node --import tsx demo/device-login.ts <issuer> <client_id>
// The client is one `wallet-oidc clients add --device` registered. It prints where to go and the code to type, polls
// the token endpoint at the interval the server asks, and prints the ID token's claims (docs/device-flow.md).
import * as oidc from 'openid-client';

const [issuerArg, clientId] = process.argv.slice(2);
if (!issuerArg || !clientId) {
  console.error('usage: device-login <issuer> <client_id>');
  process.exit(2);
}
const issuer = new URL(issuerArg);

// A device client is public (no secret): it authenticates with its client_id alone (token_endpoint_auth_method none).
// Plain http is accepted only for a local issuer (development); openid-client refuses it otherwise.
const config = await oidc.discovery(
  issuer,
  clientId,
  undefined,
  oidc.None(),
  issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
);

const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' });
console.log(`To sign in, open ${device.verification_uri} and enter the code ${device.user_code}`);
console.log(`verification_uri: ${device.verification_uri}`);
console.log(`user_code: ${device.user_code}`);
if (device.verification_uri_complete) console.log(`verification_uri_complete: ${device.verification_uri_complete}`);
console.log(`The code expires in ${device.expires_in} s. Waiting…`);

// Ctrl-C stops the polling; otherwise it ends when the code expires (openid-client's default signal).
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
try {
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, device, undefined, { signal: stop.signal });
  console.log('Signed in. ID token claims:');
  console.log(JSON.stringify(tokens.claims(), null, 2));
} catch (err) {
  // access_denied: the person chose Cancel; expired_token: nobody finished in time.
  const reason = err instanceof oidc.ResponseBodyError ? `${err.error}: ${err.error_description ?? ''}` : String(err);
  console.error(`Not signed in (${reason})`);
  process.exit(1);
}
