// The environment the entry points configure from: process.env over the variables of `./.env`, if
// that file exists. Read when an entry point starts, never on import, and process.env is left as it is.
import fs from 'node:fs';
import { parseEnv } from 'node:util';

export function readEnvironment(file = '.env'): Record<string, string | undefined> {
  const fromFile = fs.existsSync(file) ? parseEnv(fs.readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}
