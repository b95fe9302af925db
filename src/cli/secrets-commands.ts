// `secrets status` and `secrets reseal`: which ENCRYPTION_KEY seals the stored secrets, and moving them all to the
// current one, so a previous key (ENCRYPTION_KEY_PREVIOUS, or a development database's generated key) can be dropped.
import type { Command } from 'commander';
import type { SecretBox } from '../db/secret-box.ts';
import { countSealedByKey, findDevelopmentKeyId, resealAll } from '../db/sealed-values.ts';
import type { CommandRuntime } from './commands.ts';

type Role = 'current' | 'previous' | 'unknown';

const roleOf = (box: SecretBox, keyId: string): Role => (keyId === box.keyId ? 'current' : box.previousKeyIds.includes(keyId) ? 'previous' : 'unknown');

/** Where a key id comes from, for the operator: the variable that holds it, or the database. */
function origin(keyId: string, box: SecretBox, developmentKeyId: string | undefined): string {
  if (keyId === developmentKeyId) return 'the generated development key, stored in the database';
  return keyId === box.keyId ? 'ENCRYPTION_KEY' : 'ENCRYPTION_KEY_PREVIOUS';
}

export function addSecretsCommands(program: Command, { withStores }: CommandRuntime, print: (line: string) => void): void {
  const secrets = program.command('secrets').description('the ENCRYPTION_KEY that seals client secrets and private signing keys: status and re-sealing');

  secrets
    .command('status')
    .description('count the sealed values under each key (read-only): a previous key can go once nothing is under it')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const { box, counts, developmentKeyId } = await withStores(async ({ database }) => ({
        box: database.box,
        counts: await countSealedByKey(database.knex),
        developmentKeyId: await findDevelopmentKeyId(database.knex),
      }));
      const values = counts.map((c) => ({ ...c, role: roleOf(box, c.keyId) }));
      const pending = values.filter((v) => v.role !== 'current').reduce((n, v) => n + v.count, 0);
      if (opts.json) {
        print(JSON.stringify({ currentKeyId: box.keyId, previousKeyIds: box.previousKeyIds, developmentKeyId, values, pending }, null, 2));
        return;
      }
      print(`current key:   ${box.keyId} (${origin(box.keyId, box, developmentKeyId)})`);
      const previous = box.previousKeyIds.map((id) => `${id} (${origin(id, box, developmentKeyId)})`);
      print(`previous keys: ${previous.length ? previous.join(', ') : 'none'}`);
      if (!values.length) print('no sealed values');
      for (const v of values) print(`${v.table}\t${v.keyId}\t${v.role}\t${v.count}`);
      print(
        pending
          ? `${pending} values are not under the current key: run \`wallet-oidc secrets reseal\` before dropping a previous key`
          : 'every value is under the current key: previous keys can be dropped',
      );
    });

  secrets
    .command('reseal')
    .description('re-seal every value under the current ENCRYPTION_KEY, in one transaction (idempotent)')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const { keyId, result } = await withStores(async ({ database, config }) => ({
        keyId: database.box.keyId,
        // Without ENCRYPTION_KEY the generated key is the current one: it stays.
        result: await resealAll(database.knex, database.box, { dropDevelopmentKey: config.encryptionKey !== undefined }),
      }));
      if (opts.json) {
        print(JSON.stringify({ keyId, ...result }, null, 2));
        return;
      }
      for (const t of result.tables) print(`${t.table}: ${t.resealed} re-sealed, ${t.unchanged} already under ${keyId}`);
      if (result.developmentKeyDropped) print('deleted the generated development key from the database: nothing is sealed under it any more');
    });
}
