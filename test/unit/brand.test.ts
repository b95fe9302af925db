import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brandStylesheet, contrastRatio } from '../../src/http/pages.ts';

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
});
