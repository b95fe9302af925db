// Every value sealed under ENCRYPTION_KEY, found by column: counted by key id (`secrets status`), checked at
// start-up (a key neither current nor previous stops the server), re-sealed under the current key (`secrets reseal`).
import { WrongKeyError } from '../errors.ts';
import type { Db } from './knex.ts';
import { DEVELOPMENT_ENCRYPTION_KEY, findSecret } from './provider-secrets.ts';
import { keyIdOf, type SecretBox } from './secret-box.ts';

/**
 * Each column that holds sealed values (`box.seal`), with the primary key its rows are re-sealed by. A new sealed
 * column must be listed here, or rotation would leave it under the old key (test/integration/encryption-key-rotation.test.ts checks).
 */
export const SEALED_COLUMNS = [
  { table: 'signing_keys', primaryKey: 'kid', column: 'private_jwk_sealed' },
  { table: 'oidc_clients', primaryKey: 'client_id', column: 'secret_sealed' },
] as const;

export type SealedTable = (typeof SEALED_COLUMNS)[number]['table'];

export interface SealedCount {
  table: SealedTable;
  keyId: string;
  count: number;
}

/** How many values each table holds under each key id, read from the values' `v1.<keyId>.…` prefix without opening any. */
export async function countSealedByKey(db: Db): Promise<SealedCount[]> {
  const counts: SealedCount[] = [];
  for (const { table, column } of SEALED_COLUMNS) {
    const rows = (await db(table)
      .whereNotNull(column)
      .select(db.raw("split_part(??, '.', 2) AS key_id", [column]))
      .count({ count: '*' })
      .groupBy('key_id')
      .orderBy('key_id')) as unknown as Array<{ key_id: string; count: string | number }>;
    for (const r of rows) counts.push({ table, keyId: r.key_id, count: Number(r.count) });
  }
  return counts;
}

/** The id of the key a development database generated for itself and keeps in provider_secrets, if it has one. */
export async function findDevelopmentKeyId(db: Db): Promise<string | undefined> {
  const stored = await findSecret<string>(db, DEVELOPMENT_ENCRYPTION_KEY);
  return stored === undefined ? undefined : keyIdOf(Buffer.from(stored, 'hex'));
}

/**
 * Throws WrongKeyError (naming ENCRYPTION_KEY_PREVIOUS) when a value is sealed under a key the box does not hold,
 * so a server never starts to fail later on one client's token request. Returns the counts, for a warning.
 */
export async function checkSealedKeys(db: Db, box: SecretBox): Promise<SealedCount[]> {
  const counts = await countSealedByKey(db);
  const known = new Set([box.keyId, ...box.previousKeyIds]);
  const unknown = counts.find((c) => !known.has(c.keyId));
  if (unknown) throw new WrongKeyError(unknown.keyId, box.keyId, box.previousKeyIds);
  return counts;
}

export interface ResealResult {
  tables: Array<{ table: SealedTable; resealed: number; unchanged: number }>;
  /** Whether the key a development database generated for itself was deleted (nothing needs it any more). */
  developmentKeyDropped: boolean;
}

/**
 * Re-seals every value not under the current key, in one transaction: all or nothing. Idempotent: a value already
 * under the current key is left as it is. `dropDevelopmentKey`: also delete the generated development key, which
 * the re-sealed values no longer need (only when ENCRYPTION_KEY is set: otherwise it is the current key).
 */
export async function resealAll(db: Db, box: SecretBox, opts: { dropDevelopmentKey: boolean }): Promise<ResealResult> {
  return db.transaction(async (trx) => {
    const tables: ResealResult['tables'] = [];
    for (const { table, primaryKey, column } of SEALED_COLUMNS) {
      // FOR UPDATE: a concurrent reseal, or a client secret rotated meanwhile, waits for this transaction and then
      // reads what it wrote; without the lock a value read here could overwrite a newer one (a lost update).
      const rows: Array<Record<string, string>> = await trx(table).whereNotNull(column).select(primaryKey, column).orderBy(primaryKey).forUpdate();
      let resealed = 0;
      for (const row of rows) {
        const sealed = row[column]!;
        if (box.keyIdOf(sealed) === box.keyId) continue;
        // Only the sealed column, by primary key: other columns are other features' business.
        await trx(table)
          .where(primaryKey, row[primaryKey]!)
          .update({ [column]: box.seal(box.open(sealed)) });
        resealed++;
      }
      tables.push({ table, resealed, unchanged: rows.length - resealed });
    }
    const developmentKeyDropped = opts.dropDevelopmentKey && (await trx('provider_secrets').where({ name: DEVELOPMENT_ENCRYPTION_KEY }).delete()) > 0;
    return { tables, developmentKeyDropped };
  });
}
