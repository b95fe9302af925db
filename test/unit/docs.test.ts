// The documentation stays true to the code: the reason-code table equals REASONS, and every local
// link in README.md and docs/ leads to a file (and heading) that exists.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REASONS } from '../../src/errors.ts';
import { ROOT } from '../helpers/process.ts';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Every Markdown file of the documentation, relative to the root. */
function markdownFiles(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  walk('docs');
  return found;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6} +(.+)$/gm)) {
    out.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

describe('docs/login-contract.md', () => {
  it('lists exactly the reason codes of src/errors.ts, each with its HTTP status', () => {
    const rows = [...read('docs/login-contract.md').matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map(([, code, status]) => [code, Number(status)]);
    assert.deepEqual(
      rows.sort(),
      Object.entries(REASONS)
        .map(([code, r]) => [code, r.status])
        .sort(),
    );
  });
});

describe('links in README.md and docs/', () => {
  it('lead to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = read(file).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [ref, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = ref ? path.join(path.dirname(file), ref) : file;
        if (!fs.existsSync(path.join(ROOT, resolved))) {
          broken.push(`${file}: ${target} (no such file)`);
        } else if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) {
          broken.push(`${file}: ${target} (no such heading)`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});
