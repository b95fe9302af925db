// The configuration table in docs/configuration.md is rendered from the schema (src/config/docs.ts):
// this fails when the two differ, and checks that the generator only touches what is between the markers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, PRODUCTION_RULES } from '../../src/config/index.ts';
import { generatedRegion, renderConfigRegion, renderConfigTable, replaceGeneratedRegion, TABLE_END, TABLE_START } from '../../src/config/docs.ts';
import { CONFIG_DOC } from '../../scripts/config-docs.ts';

describe('the configuration docs', () => {
  it('docs/configuration.md holds the table the schema renders now', () => {
    const region = generatedRegion(fs.readFileSync(CONFIG_DOC, 'utf8'));
    assert.equal(region, renderConfigRegion(), 'docs/configuration.md is out of date with src/config/index.ts: run `npm run docs:config`');
  });

  it('has one row per variable, in the schema order, with the production rules', () => {
    const rows = renderConfigTable().split('\n').slice(2);
    assert.deepEqual(
      rows.map((row) => /^\| `(\w+)` \|/.exec(row)?.[1]),
      CONFIG_VARIABLES,
    );
    for (const rule of PRODUCTION_RULES) {
      const cells = rows.find((row) => row.startsWith(`| \`${rule.variable}\` |`))!.split(' | ');
      assert.ok(cells[2]!.includes(rule.summary), rule.variable);
    }
  });

  it('renders the same text every time', () => {
    assert.equal(renderConfigRegion(), renderConfigRegion());
  });

  it('replaces only what is between the markers', () => {
    const doc = `# Title\n\nProse.\n\n${TABLE_START}\nold table\n${TABLE_END}\n\nMore prose.\n`;
    const updated = replaceGeneratedRegion(doc, '\nnew table\n');
    assert.equal(updated, `# Title\n\nProse.\n\n${TABLE_START}\n\nnew table\n\n${TABLE_END}\n\nMore prose.\n`);
    assert.equal(generatedRegion(updated), '\nnew table\n');
    assert.equal(replaceGeneratedRegion(updated, '\nnew table\n'), updated);
  });

  it('refuses a document whose markers are missing, repeated or out of order', () => {
    assert.throws(() => generatedRegion('# Title\n'), /config-table:start/);
    assert.throws(() => replaceGeneratedRegion(`${TABLE_START}\n${TABLE_END}\n${TABLE_END}\n`, ''), /config-table:end -->, found 2/);
    assert.throws(() => replaceGeneratedRegion(`${TABLE_END}\n${TABLE_START}\n`, ''), /comes before/);
  });
});
