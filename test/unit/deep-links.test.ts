// Carrying a login to a phone: wallet deep links and the QR code that hold a handoff link.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { qrDataUrl, walletDeepLinks } from '../../src/http/deep-links.ts';

describe('walletDeepLinks', () => {
  it('opens the URL in MetaMask, Coinbase Wallet, Rainbow and Trust Wallet, encoded where the format wants it', () => {
    const target = 'https://id.example.com/auth?client_id=abc&state=a%26b';
    const links = Object.fromEntries(walletDeepLinks(target).map((l) => [l.wallet, l.href]));
    assert.deepEqual(Object.keys(links), ['MetaMask', 'Coinbase Wallet', 'Rainbow', 'Trust Wallet']);
    assert.equal(links.MetaMask, 'https://metamask.app.link/dapp/id.example.com/auth?client_id=abc&state=a%26b');
    assert.equal(new URL(links['Coinbase Wallet']!).searchParams.get('cb_url'), target);
    assert.equal(new URL(links.Rainbow!).searchParams.get('url'), target);
    assert.equal(new URL(links['Trust Wallet']!).searchParams.get('url'), target);
  });
});

describe('qrDataUrl', () => {
  it('renders an SVG QR code as a data: URL', async () => {
    const url = await qrDataUrl('https://id.example.com/auth?client_id=abc');
    assert.match(url, /^data:image\/svg\+xml;base64,/);
    assert.match(Buffer.from(url.split(',')[1]!, 'base64').toString(), /^<svg[^>]*viewBox/);
  });
});
