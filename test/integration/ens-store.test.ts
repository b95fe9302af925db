// The ENS names table's contract (src/ens/ports.ts), the same on PGlite, Postgres and the in-memory stores:
// one lease at a time, only while an address is missing or due, ended by an answer, a failure or its time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Wallet } from 'ethers';
import { createNameStore } from '../../src/db/ens-names.ts';
import { createDb } from '../../src/db/knex.ts';
import { createSql } from '../../src/db/sql.ts';
import type { NameStore } from '../../src/ens/ports.ts';
import { createMemoryStores } from '../../src/memory/stores.ts';
import { describeEachDatabase } from '../helpers/db.ts';

const T0 = new Date('2026-12-03T12:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function contract(open: () => Promise<{ store: NameStore; close(): Promise<void> }>) {
  let store: NameStore;
  let close: () => Promise<void>;
  before(async () => ({ store, close } = await open()));
  after(() => close?.());

  it('gives a missing address one lease among racing callers, as a row with no answer yet', async () => {
    const address = Wallet.createRandom().address;
    const won = await Promise.all(Array.from({ length: 8 }, () => store.lease(address, at(0), at(60))));
    assert.equal(won.filter(Boolean).length, 1);
    assert.deepEqual(await store.find(address), { name: undefined, avatar: undefined, resolvedAt: undefined, refreshAfter: at(0), failures: 0 });
    assert.equal(await store.lease(address, at(59), at(120)), false, 'held until its time');
    assert.equal(await store.lease(address, at(60), at(120)), true, 'taken over once it ends');
  });

  it('records an answer that ends the lease and holds until it is due', async () => {
    const address = Wallet.createRandom().address;
    assert.equal(await store.lease(address, at(0), at(60)), true);
    await store.saveAnswer(address, { name: 'alice.eth', avatar: 'https://example.com/a.png' }, at(1), at(3600));
    assert.deepEqual(await store.find(address), {
      name: 'alice.eth',
      avatar: 'https://example.com/a.png',
      resolvedAt: at(1),
      refreshAfter: at(3600),
      failures: 0,
    });
    assert.equal(await store.lease(address, at(3599), at(3700)), false, 'fresh');
    assert.equal(await store.lease(address, at(3600), at(3700)), true, 'due');
    await store.saveAnswer(address, null, at(3601), at(7200));
    assert.deepEqual(await store.find(address), { name: undefined, avatar: undefined, resolvedAt: at(3601), refreshAfter: at(7200), failures: 0 });
  });

  it('records a failure that keeps the last answer, counts, ends the lease and is due at the retry time', async () => {
    const address = Wallet.createRandom().address;
    await store.lease(address, at(0), at(60));
    await store.saveAnswer(address, { name: 'bob.eth', avatar: undefined }, at(1), at(10));
    for (const [now, retry] of [
      [10, 310],
      [310, 610],
    ] as const) {
      assert.equal(await store.lease(address, at(now), at(now + 60)), true);
      await store.saveFailure(address, at(retry));
    }
    assert.deepEqual(await store.find(address), { name: 'bob.eth', avatar: undefined, resolvedAt: at(1), refreshAfter: at(610), failures: 2 });
    assert.equal(await store.lease(address, at(609), at(700)), false);
    assert.equal(await store.lease(address, at(610), at(700)), true);
    await store.saveAnswer(address, { name: 'bob.eth', avatar: undefined }, at(611), at(4000));
    assert.equal((await store.find(address))?.failures, 0);
  });
}

describeEachDatabase('the ENS names table', (backend) =>
  contract(async () => {
    const db = await backend.create();
    const knex = createDb(db.database);
    return { store: createNameStore(createSql(knex)), close: async () => (await knex.destroy(), await db.drop()) };
  }),
);

describe('the ENS names table (memory)', () => contract(async () => ({ store: createMemoryStores(() => T0).names, close: async () => {} })));
