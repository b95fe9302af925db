// Carrying a sign-in to a phone: the RP's authorization request rebuilt, wallet deep links, the QR code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorizationUrl, elsewhereTarget, qrDataUrl, walletDeepLinks } from '../../src/http/deep-links.ts';

describe('authorizationUrl', () => {
  it("rebuilds the RP's request from the interaction's parameters, skipping absent ones", () => {
    const url = new URL(
      authorizationUrl('https://id.example.com', { client_id: 'abc', redirect_uri: 'https://rp.example/cb', state: 'x y', nonce: undefined }),
    );
    assert.equal(url.origin + url.pathname, 'https://id.example.com/auth');
    assert.deepEqual(Object.fromEntries(url.searchParams), { client_id: 'abc', redirect_uri: 'https://rp.example/cb', state: 'x y' });
  });
});

describe('elsewhereTarget', () => {
  const params = { client_id: 'abc', redirect_uri: 'https://rp.example/cb', state: 's', id_token_hint: 'eyJ.x.y', login_hint: 'me' };
  it("rebuilds the RP's request without id_token_hint, which names this device's session", () => {
    const url = new URL(elsewhereTarget('https://id.example.com', params));
    assert.deepEqual(Object.fromEntries(url.searchParams), { client_id: 'abc', redirect_uri: 'https://rp.example/cb', state: 's', login_hint: 'me' });
  });
  it("is the client's initiate_login_uri with iss added, keeping the URI's own query", () => {
    assert.equal(
      elsewhereTarget('https://id.example.com', params, 'https://rp.example/login?x=1'),
      'https://rp.example/login?x=1&iss=https%3A%2F%2Fid.example.com',
    );
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
