// Accounts as oidc-provider sees them: `sub` rules and the claims each scope grants.
import { LRUCache } from 'lru-cache';
import type { Account as OidcAccount, FindAccount } from 'oidc-provider';
import { fromStorage } from './unavailable.ts';
import { noNames, type Account, type AccountStore, type NameResolver, type ResolvedName } from './ports.ts';
import type { WalletType } from '../siwe/ports.ts';

/** Claims per scope; oidc-provider masks them by the grant (docs: configuration.md#claims). */
export const CLAIMS = {
  // wallet_type says what `sub` denotes (an address on every chain, or a contract on one), so it comes with `sub`.
  openid: ['sub', 'wallet_type'],
  profile: ['preferred_username', 'name', 'nickname', 'picture'],
} as const;

export type SubFormat = 'address' | 'caip10';

/**
 * `sub` of a wallet (docs/architecture.md, "Subjects"). One verified by ECDSA recovery (`eoa`): its checksummed address,
 * the same on every chain, because one key controls that address everywhere (siwe-oidc #31); `caip10` is the
 * compatibility form `eip155:<chainId>:<address>` for users migrating from siwe-oidc. A contract wallet is always
 * `eip155:<chainId>:<address>`: the same address on another chain may hold other code with other owners, so it is another
 * account, and it never signs in as the EOA account of its address (whose sub has no chain).
 */
export function subjectFor(address: string, chainId: number, walletType: WalletType, format: SubFormat): string {
  return walletType === 'contract' || format === 'caip10' ? `eip155:${chainId}:${address}` : address;
}

/** A display name: the address shortened as wallets show it. */
export function displayName(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export interface AccountClaims {
  [claim: string]: unknown;
  sub: string;
  wallet_type: WalletType;
  preferred_username: string;
  name: string;
  nickname?: string;
  picture?: string;
}

/**
 * The claims of an account; `resolved` is the name the NameResolver knows for its address, if any (an ENS primary name
 * whose forward record gives the address back). Without one, `name` is the shortened address and `nickname` and
 * `picture` are absent.
 */
export function claimsFor(account: Account, resolved?: ResolvedName): AccountClaims {
  return {
    sub: account.sub,
    wallet_type: account.walletType,
    // The address never moves to another person, unlike an ENS name, so brokers can key usernames on it. A contract
    // wallet's address on another chain is another account (another sub): its username names the chain too.
    preferred_username: account.walletType === 'contract' ? account.sub : account.address,
    name: resolved?.name ?? displayName(account.address),
    ...(resolved ? { nickname: resolved.name } : {}),
    ...(resolved?.picture ? { picture: resolved.picture } : {}),
  };
}

/** The one chain an account is bound to: a contract wallet's (its sub names it), none for an EOA. */
function boundChain(account: Account): number | undefined {
  return account.walletType === 'contract' ? Number(account.sub.split(':')[1]) : undefined;
}

/** findAccount, and how to drop what it keeps of an account (on the change feed's `accounts`). */
export type CachedFindAccount = FindAccount & {
  /** Forgets the account of `sub`, or every account when absent. */
  forget(sub?: string): void;
};

/**
 * oidc-provider asks for the account at every step of a login (resume, token, userinfo). Claims
 * other than the name depend only on fields that never change after creation, so an account found is kept briefly;
 * disabling or enabling one is announced on the change feed, which makes every instance forget it at once.
 * A disabled account is not found: its session asks for a login again, its codes and refresh tokens
 * answer invalid_grant, its access tokens invalid_token (and introspection `active: false`).
 */
export function createFindAccount(accounts: AccountStore, names: NameResolver = noNames): CachedFindAccount {
  const cache = new LRUCache<string, Account>({ max: 10_000, ttl: 60_000 });
  const find: FindAccount = async (_ctx, sub): Promise<OidcAccount | undefined> => {
    let account = cache.get(sub);
    if (!account) {
      account = await fromStorage(() => accounts.find(sub));
      if (!account) return undefined;
      cache.set(sub, account);
    }
    if (account.disabledAt) return undefined;
    const found = account;
    // Names can change (ENS), so they are asked for on each claims read; the resolver answers from its cache.
    return { accountId: found.sub, claims: async () => claimsFor(found, await names.lookup(found.address, boundChain(found))) };
  };
  return Object.assign(find, { forget: (sub?: string) => void (sub === undefined ? cache.clear() : cache.delete(sub)) });
}
