import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brandStylesheet, formActionSource } from '../../src/http/pages.ts';
import { buttonText, contrastRatio } from '../../src/config/contrast.ts';
import { loadConfig } from '../../src/config/index.ts';

describe('the brand stylesheet', () => {
  it('computes WCAG contrast ratios', () => {
    assert.equal(contrastRatio('#000000', '#ffffff'), 21);
    assert.equal(contrastRatio('#777777', '#777777'), 1);
    // WebAIM's checker gives 4.54:1 for #767676 on white.
    assert.equal(Math.round(contrastRatio('#767676', '#ffffff') * 100) / 100, 4.54);
  });

  for (const [color, fg] of [
    ['#0a7d32', '#ffffff'],
    ['#000080', '#ffffff'],
    ['#ffd400', '#0b0d12'],
    ['#8ea2ff', '#0b0d12'],
  ] as const) {
    it(`writes ${fg} on buttons coloured ${color}, in light and dark schemes`, () => {
      const css = brandStylesheet(color);
      const rule = `:root { --accent: ${color}; --accent-fg: ${fg}; }`;
      assert.equal(css, `${rule}\n@media (prefers-color-scheme: dark) { ${rule} }\n`);
      assert.ok(contrastRatio(color, fg) >= 4.5, `${fg} on ${color} reads at 4.5:1 or better`);
    });
  }

  it('refuses a BRAND_COLOR no button text reads on, naming the variable and the ratio', () => {
    // #d64541: 4.39:1 with white, 4.43:1 with near-black; both under 4.5.
    assert.ok(buttonText('#d64541').ratio < 4.5);
    assert.throws(() => loadConfig({ BRAND_COLOR: '#d64541' }), /BRAND_COLOR.*4\.43:1/s);
    assert.doesNotThrow(() => loadConfig({ BRAND_COLOR: '#0a7d32' }));
  });
});

describe('the form-action source for a redirect', () => {
  it("is the redirect's origin for a web client", () => {
    assert.deepEqual(formActionSource('https://rp.example.com:8443/cb?x=1'), ['https://rp.example.com:8443']);
  });
  it("is the scheme for a native app's private-use scheme, whose origin is opaque", () => {
    assert.deepEqual(formActionSource('com.example.app:/oauth2redirect'), ['com.example.app:']);
  });
  it('is nothing for a missing or unparsable URI', () => {
    assert.deepEqual(formActionSource(undefined), []);
    assert.deepEqual(formActionSource('not a url'), []);
  });
});
