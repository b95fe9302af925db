// Carrying a sign-in to a phone: where the short link leads, wallet deep links, the QR code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { elsewhereTarget, qrDataUrl, walletDeepLinks } from '../../src/http/deep-links.ts';

describe('elsewhereTarget', () => {
  it("is the client's initiate_login_uri with iss added, keeping the URI's own query", () => {
    assert.equal(elsewhereTarget('https://id.example.com', 'https://rp.example/login?x=1'), 'https://rp.example/login?x=1&iss=https%3A%2F%2Fid.example.com');
  });
  it('is nothing without one: the RP request is never rebuilt for another device', () => {
    assert.equal(elsewhereTarget('https://id.example.com', undefined), undefined);
  });
});

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
