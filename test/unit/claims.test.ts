// Unit tests for `sub` rules and claims (src/oidc/claims.ts), with an in-memory account store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Account, AccountStore } from '../../src/oidc/ports.ts';
import { CLAIMS, claimsFor, createFindAccount, displayName, subjectFor } from '../../src/oidc/claims.ts';

function setup() {
  const address = '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2';
  const at = new Date('2025-01-02T03:04:05.000Z');
  const account = (sub: string): Account => ({ id: `id-${sub}`, sub, address, walletType: 'eoa', firstLoginAt: at, lastLoginAt: at, loginCount: 1 });
  const accounts = new Map([address, `eip155:137:${address}`].map((sub) => [sub, account(sub)]));
  const store: AccountStore = {
    recordLogin: async () => assert.fail('findAccount must not record a login'),
    find: async (sub) => accounts.get(sub),
    findByAddress: async () => assert.fail('findAccount looks accounts up by sub'),
    list: async () => assert.fail('findAccount looks accounts up by sub'),
    setDisabled: async () => assert.fail('findAccount changes no account'),
  };
  // oidc-provider passes its request context; claims do not depend on it.
  const findAccount = (sub: string) => createFindAccount(store)({} as never, sub);
  return { address, account, findAccount };
}

describe('subjectFor', () => {
  it('is the checksummed address itself, the same on every chain', () => {
    const { address } = setup();
    assert.equal(subjectFor(address, 1, 'eoa', 'address'), address);
    assert.equal(subjectFor(address, 137, 'eoa', 'address'), address);
  });

  it('is the CAIP-10 id eip155:<chainId>:<address> in the compatibility format', () => {
    const { address } = setup();
    assert.equal(subjectFor(address, 1, 'eoa', 'caip10'), `eip155:1:${address}`);
    assert.equal(subjectFor(address, 137, 'eoa', 'caip10'), `eip155:137:${address}`);
  });

  it('names the chain of a contract wallet in every format: its address on another chain is another account', () => {
    const { address } = setup();
    assert.equal(subjectFor(address, 8453, 'contract', 'address'), `eip155:8453:${address}`);
    assert.equal(subjectFor(address, 8453, 'contract', 'caip10'), `eip155:8453:${address}`);
    assert.notEqual(subjectFor(address, 1, 'contract', 'address'), subjectFor(address, 1, 'eoa', 'address'));
  });
});

describe('displayName', () => {
  it('shortens the address as wallets show it: the first 6 and last 4 characters', () => {
    const { address } = setup();
    assert.equal(displayName(address), '0xC02a…6Cc2');
  });
});

describe('claimsFor', () => {
  it('gives the account sub, the address as preferred_username and the short address as name', () => {
    const { address, account } = setup();
    assert.deepEqual(claimsFor(account(`eip155:137:${address}`)), {
      sub: `eip155:137:${address}`,
      wallet_type: 'eoa',
      preferred_username: address,
      name: '0xC02a…6Cc2',
    });
  });

  it("gives a known name as name and nickname, its avatar as picture, and a contract wallet's chain-qualified sub as preferred_username", () => {
    const { address, account } = setup();
    assert.deepEqual(claimsFor({ ...account(`eip155:8453:${address}`), walletType: 'contract' }, { name: 'alice.eth', picture: 'https://a.example/p.png' }), {
      sub: `eip155:8453:${address}`,
      wallet_type: 'contract',
      preferred_username: `eip155:8453:${address}`,
      name: 'alice.eth',
      nickname: 'alice.eth',
      picture: 'https://a.example/p.png',
    });
  });

  it('returns only claims that a scope declares, so oidc-provider can release them', () => {
    const { address, account } = setup();
    const declared = new Set<string>(Object.values(CLAIMS).flat());
    for (const claim of Object.keys(claimsFor(account(address), { name: 'alice.eth', picture: 'https://a.example/p.png' })))
      assert.ok(declared.has(claim), claim);
  });
});

describe('createFindAccount', () => {
  it('finds an account by sub and answers its claims', async () => {
    const { address, findAccount } = setup();
    const found = await findAccount(`eip155:137:${address}`);
    assert.ok(found);
    assert.equal(found.accountId, `eip155:137:${address}`);
    assert.deepEqual(await found.claims('id_token', 'openid profile', {}, []), {
      sub: `eip155:137:${address}`,
      wallet_type: 'eoa',
      preferred_username: address,
      name: '0xC02a…6Cc2',
    });
  });

  it("asks the NameResolver for a contract wallet's name on its own chain only, and for an EOA's on any", async () => {
    const { address, account } = setup();
    const contract: Account = { ...account(`eip155:8453:${address}`), walletType: 'contract' };
    const accounts = new Map([address, contract.sub].map((sub) => [sub, sub === address ? account(sub) : contract]));
    const asked: Array<[string, number | undefined]> = [];
    const findAccount = createFindAccount({ find: async (sub: string) => accounts.get(sub) } as unknown as AccountStore, {
      lookup: async (a, chainId) => void asked.push([a, chainId]),
    });
    for (const sub of [address, contract.sub]) await (await findAccount({} as never, sub))!.claims('id_token', 'openid profile', {}, []);
    assert.deepEqual(asked, [
      [address, undefined],
      [address, 8453],
    ]);
  });

  it('answers undefined for a sub it does not know', async () => {
    const { findAccount } = setup();
    assert.equal(await findAccount('0x0000000000000000000000000000000000000001'), undefined);
  });
});
