// Secrets the provider generates and keeps when the operator gave none (development only).
import { randomBytes } from 'node:crypto';
import type { Db } from './knex.ts';

/**
 * Returns the stored value named `name`, creating it with `generate()` on first use.
 * Concurrent first starts agree on one value: the insert is ON CONFLICT DO NOTHING, then read back.
 */
export async function getOrCreateSecret<T>(db: Db, name: string, generate: () => T): Promise<T> {
  await db('provider_secrets')
    .insert({ name, value: JSON.stringify(generate()) })
    .onConflict('name')
    .ignore();
  const row = await db('provider_secrets').where({ name }).first('value');
  return row.value as T;
}

/** The stored value named `name`, or undefined. */
export async function findSecret<T>(db: Db, name: string): Promise<T | undefined> {
  const row = await db('provider_secrets').where({ name }).first('value');
  return row?.value as T | undefined;
}

/** The name of the ENCRYPTION_KEY a development database generated for itself (hex). */
export const DEVELOPMENT_ENCRYPTION_KEY = 'encryption_key';

export const generateCookieKeys = (): string[] => [randomBytes(32).toString('base64url')];
export const generateEncryptionKey = (): string => randomBytes(32).toString('hex');
