// `npm run docs:config`: writes the configuration table, rendered from the schema (src/config/docs.ts),
// into docs/configuration.md between its marker lines, keeping the rest of the file as it is.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigRegion, replaceGeneratedRegion } from '../src/config/docs.ts';

export const CONFIG_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'configuration.md');

function main(): void {
  const before = fs.readFileSync(CONFIG_DOC, 'utf8');
  const after = replaceGeneratedRegion(before, renderConfigRegion());
  const name = path.relative(process.cwd(), CONFIG_DOC);
  if (after === before) {
    console.log(`${name} is up to date`);
  } else {
    fs.writeFileSync(CONFIG_DOC, after);
    console.log(`${name}: configuration table updated`);
  }
}

// Imported by the docs test for CONFIG_DOC; run as a script, it writes.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
