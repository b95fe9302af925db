// Ways to carry a sign-in to a phone: wallet apps' in-app browsers (deep links) and a QR code.
// Both hold only our short link (/interaction/:uid/elsewhere): the wallets' link services and the
// QR code never see the RP's request, and the QR code stays small whatever the request's length.
// That link starts a fresh sign-in on the other device (see `elsewhereTarget`).
import QRCode from 'qrcode';

export interface DeepLink {
  wallet: string;
  href: string;
}

/** Deep-link formats as each wallet documents them (Rainbow's is the least documented). */
export function walletDeepLinks(url: string): DeepLink[] {
  const encoded = encodeURIComponent(url);
  return [
    { wallet: 'MetaMask', href: `https://metamask.app.link/dapp/${url.replace(/^https?:\/\//, '')}` },
    { wallet: 'Coinbase Wallet', href: `https://go.cb-w.com/dapp?cb_url=${encoded}` },
    { wallet: 'Rainbow', href: `https://rnbwapp.com/dapp?url=${encoded}` },
    { wallet: 'Trust Wallet', href: `https://link.trustwallet.com/open_url?coin_id=60&url=${encoded}` },
  ];
}

/** An SVG QR code as a data: URL (allowed by the page's img-src; no script, no third party). */
export async function qrDataUrl(url: string): Promise<string> {
  const svg = await QRCode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/**
 * Where the short link sends the other device, when anywhere: a client that registered an
 * `initiate_login_uri` (OpenID Connect Core §4, third-party-initiated login) starts a fresh request
 * of its own there, so its state and PKCE verifier live on that device. Nothing of the original
 * request (state, nonce, PKCE challenge, redirect) ever leaves this server: anyone holding the link
 * could otherwise finish the victim's request with their own wallet (login CSRF). Without that URI
 * the other device is told to start from the application (undefined here).
 */
export function elsewhereTarget(issuerOrigin: string, initiateLoginUri: string | undefined): string | undefined {
  if (!initiateLoginUri) return undefined;
  const url = new URL(initiateLoginUri);
  url.searchParams.set('iss', issuerOrigin);
  return url.href;
}
