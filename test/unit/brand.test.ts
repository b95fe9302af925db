import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { brandStylesheet, formActionSource } from '../../src/http/pages.ts';
import { buttonText, contrastRatio, SCHEMES } from '../../src/config/contrast.ts';
import { ROOT } from '../helpers/process.ts';
import { loadConfig } from '../../src/config/index.ts';

describe('the brand stylesheet', () => {
  it('computes WCAG contrast ratios', () => {
    assert.equal(contrastRatio('#000000', '#ffffff'), 21);
    assert.equal(contrastRatio('#777777', '#777777'), 1);
    // WebAIM's checker gives 4.54:1 for #767676 on white.
    assert.equal(Math.round(contrastRatio('#767676', '#ffffff') * 100) / 100, 4.54);
  });

  // [colour, button text, border in the light scheme, border in the dark scheme]
  for (const [color, fg, light, dark] of [
    ['#0a7d32', '#ffffff', '#0a7d32', '#0a7d32'],
    ['#000080', '#ffffff', '#000080', SCHEMES.dark.control], // navy vanishes into the dark card
    ['#ffd400', '#0b0d12', SCHEMES.light.control, '#ffd400'], // yellow vanishes into the white card
    ['#8ea2ff', '#0b0d12', SCHEMES.light.control, '#8ea2ff'],
  ] as const) {
    it(`writes ${fg} on buttons coloured ${color}, edged ${light} in the light scheme and ${dark} in the dark`, () => {
      const css = brandStylesheet(color);
      const rule = (border: string) => `:root { --accent: ${color}; --accent-fg: ${fg}; --accent-border: ${border}; }`;
      assert.equal(css, `${rule(light)}\n@media (prefers-color-scheme: dark) { ${rule(dark)} }\n`);
      assert.ok(contrastRatio(color, fg) >= 4.5, `${fg} on ${color} reads at 4.5:1 or better`);
      assert.ok(contrastRatio(light, SCHEMES.light.card) >= 3 && contrastRatio(dark, SCHEMES.dark.card) >= 3, 'the edge shows at 3:1');
    });
  }

  it("knows app.css's card and control colours, and those borders show at 3:1 in both schemes", () => {
    const css = fs.readFileSync(path.join(ROOT, 'views/static/app.css'), 'utf8');
    const [light, dark] = css.split('@media (prefers-color-scheme: dark)');
    for (const [scheme, block] of [
      ['light', light!],
      ['dark', dark!],
    ] as const) {
      const value = (name: string) => new RegExp(`--${name}: (#[0-9a-f]{6})`).exec(block)?.[1];
      assert.equal(value('card'), SCHEMES[scheme].card, `${scheme} --card`);
      assert.equal(value('control'), SCHEMES[scheme].control, `${scheme} --control`);
      assert.ok(contrastRatio(SCHEMES[scheme].control, SCHEMES[scheme].card) >= 3, `${scheme} control border against the card`);
      assert.ok(contrastRatio(SCHEMES[scheme].control, value('bg')!) >= 3, `${scheme} control border against the page`);
    }
  });

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
