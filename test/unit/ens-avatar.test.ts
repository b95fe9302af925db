// Which ENS avatar records become the `picture` claim: plain https URLs of sane length only (src/ens/reader.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptAvatar } from '../../src/ens/reader.ts';

describe('acceptAvatar', () => {
  it('passes an https URL on, as the URL parser writes it', () => {
    assert.equal(acceptAvatar('https://example.com/a.png'), 'https://example.com/a.png');
    assert.equal(acceptAvatar('https://EXAMPLE.com'), 'https://example.com/');
    assert.equal(acceptAvatar('https://cdn.example/avatars/1.png?size=96#x'), 'https://cdn.example/avatars/1.png?size=96#x');
  });

  it('leaves out what a relying party cannot show without this server fetching for it', () => {
    for (const value of [
      'ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG',
      'eip155:1/erc721:0xb47e3cd837dDF8e4c57F05d70Ab865de6e193BBB/1',
      'eip155:1/erc1155:0x495f947276749ce646f68ac8c248420045cb7b5e/1',
      'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=',
      'http://example.com/a.png',
      'javascript:alert(1)',
      'ftp://example.com/a.png',
    ]) {
      assert.equal(acceptAvatar(value), undefined, value);
    }
  });

  it('leaves out malformed, oversized, credentialed or blank-bearing values, and nothing at all', () => {
    for (const value of [
      '',
      null,
      undefined,
      'not a url',
      'https://',
      `https://example.com/${'a'.repeat(2048)}`,
      'https://user:pass@example.com/a.png',
      'https://user@example.com/a.png',
      'https://example.com/a b.png',
      'https://example.com/a.png\n',
      ' https://example.com/a.png',
      'https://example.com/\u0000.png',
    ]) {
      assert.equal(acceptAvatar(value), undefined, JSON.stringify(value));
    }
  });

  it('accepts up to the length limit', () => {
    const long = `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`;
    assert.equal(long.length, 2048);
    assert.equal(acceptAvatar(long), long);
  });
});
