// The configuration table of docs/configuration.md, rendered from the schema (src/config/index.ts):
// name, default, production rule and description of every variable, with the allowed values and
// examples the schema knows. `npm run docs:config` writes it between the markers; a test compares.
import { z } from 'zod';
import { CONFIG_VARIABLE_SCHEMAS, CONFIG_VARIABLES, PRODUCTION_RULES } from './index.ts';

export const TABLE_START = '<!-- config-table:start -->';
export const TABLE_END = '<!-- config-table:end -->';

const DAY = 86400;

const code = (value: string) => `\`${value}\``;

/** "`a`, `b` or `c`" */
const alternatives = (values: string[]) =>
  values
    .map(code)
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1');

/** A table cell: no line breaks, and a literal `|` would end the cell. */
const cell = (text: string) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

const inDays = (seconds: number) => (seconds >= DAY && seconds % DAY === 0 ? ` (${seconds / DAY} day${seconds === DAY ? '' : 's'})` : '');

/** The schema under `.optional()` and `.default()`, and its default if it has one. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; defaultValue?: unknown } {
  if (schema instanceof z.ZodDefault) return { inner: unwrap(schema.unwrap() as z.ZodType).inner, defaultValue: schema.def.defaultValue };
  if (schema instanceof z.ZodOptional) return unwrap(schema.unwrap() as z.ZodType);
  return { inner: schema };
}

/** What the schema accepts, if it says simply: the values of an enum, or the range of a number. */
function allowed(schema: z.ZodType, unit: string | undefined): string | undefined {
  if (schema instanceof z.ZodEnum) {
    // An enum keeps its values as object keys, which puts integer-like ones first: put them last again.
    const values = schema.options.map(String).sort((a, b) => Number(/^\d+$/.test(a)) - Number(/^\d+$/.test(b)));
    return `One of ${alternatives(values)}.`;
  }
  if (schema instanceof z.ZodNumber && schema.minValue !== null && schema.maxValue !== null) {
    const max = unit === 'seconds' ? `${schema.maxValue}${inDays(schema.maxValue)}` : String(schema.maxValue);
    return `Whole number${unit ? ` of ${unit}` : ''}, ${schema.minValue}–${max}.`;
  }
  if (schema instanceof z.ZodPipe) return allowed(schema.in as z.ZodType, unit) ?? allowed(schema.out as z.ZodType, unit);
  return undefined;
}

function defaultCell(defaultValue: unknown, unset: string | undefined, unit: string | undefined): string {
  if (defaultValue === undefined) return unset ? `unset: ${unset}` : 'unset';
  const text = code(Array.isArray(defaultValue) ? defaultValue.join(',') : String(defaultValue));
  return unit === 'seconds' && typeof defaultValue === 'number' ? text + inDays(defaultValue) : text;
}

/** The Markdown table of every variable, one row each, in the schema's order. */
export function renderConfigTable(): string {
  const rows = CONFIG_VARIABLES.map((name) => {
    const schema: z.ZodType = CONFIG_VARIABLE_SCHEMAS[name];
    const meta = z.globalRegistry.get(schema) ?? {};
    const { inner, defaultValue } = unwrap(schema);
    const unit = z.globalRegistry.get(inner)?.unit;
    const description = [
      meta.description,
      allowed(inner, unit),
      meta.examples?.length ? `${meta.examples.length > 1 ? 'Examples' : 'Example'}: ${meta.examples.map(code).join(', ')}.` : undefined,
    ];
    const production = PRODUCTION_RULES.filter((rule) => rule.variable === name).map((rule) => rule.summary);
    return [code(name), defaultCell(defaultValue, meta.unset, unit), production.join('; '), description.filter(Boolean).join(' ')];
  });
  return [['Variable', 'Default', 'In production', 'Description'], ['---', '---', '---', '---'], ...rows]
    .map((row) => `| ${row.map(cell).join(' | ')} |`)
    .join('\n');
}

/** Everything docs/configuration.md holds between its marker lines. */
export function renderConfigRegion(): string {
  return ['', '<!-- Generated from src/config/index.ts by `npm run docs:config`: edit the schema, not this table. -->', '', renderConfigTable(), ''].join('\n');
}

/** The marker lines' indexes; throws unless each appears once, start first. */
function markers(lines: string[]): [number, number] {
  const find = (marker: string) => {
    const found = lines.flatMap((line, i) => (line.trimEnd() === marker ? [i] : []));
    if (found.length !== 1) throw new Error(`expected one line ${marker}, found ${found.length}`);
    return found[0]!;
  };
  const [start, end] = [find(TABLE_START), find(TABLE_END)];
  if (end < start) throw new Error(`${TABLE_END} comes before ${TABLE_START}`);
  return [start, end];
}

/** The text between the marker lines (without them). */
export function generatedRegion(doc: string): string {
  const lines = doc.split('\n');
  const [start, end] = markers(lines);
  return lines.slice(start + 1, end).join('\n');
}

/** The document with `region` between its marker lines; the rest is kept as it is. */
export function replaceGeneratedRegion(doc: string, region: string): string {
  const lines = doc.split('\n');
  const [start, end] = markers(lines);
  return [...lines.slice(0, start + 1), region, ...lines.slice(end)].join('\n');
}
