// Ways to carry a login to a phone or a wallet app: wallet apps' in-app browsers (deep links) and a QR code.
// Both hold only a handoff link (/handoff/<secret>, http/handoffs.ts): the wallets' link services and the QR
// code never see the interaction or the RP's request, and the QR code stays small.
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
