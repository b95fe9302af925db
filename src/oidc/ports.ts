// What the OIDC layer needs from outside: accounts, clients, oidc-provider's payloads, signing keys,
// and display names. Implemented in db/ (Postgres, PGlite) and memory/ (tests, the benchmark's ceiling).
import type { AdapterPayload, ClientMetadata, JWK } from 'oidc-provider';
import type { LoginEvent } from '../observer.ts';
import type { WalletType } from '../siwe/ports.ts';

export interface Account {
  id: string;
  sub: string;
  address: string;
  walletType: WalletType;
  firstLoginAt: Date;
  lastLoginAt: Date;
  loginCount: number;
  /** Set by `accounts disable`: no login, no session, no token for this account until `accounts enable`. */
  disabledAt?: Date | undefined;
  disabledReason?: string | undefined;
}

export interface AccountStore {
  /**
   * Creates the account on first login, otherwise counts the login, and writes the login's
   * event beside it when given: one statement, one round trip, either way. A disabled account, or one whose wallet
   * type differs (with SUB_FORMAT=caip10 an EOA and a contract at one address on one chain share a sub), is left as it
   * is, with no event: undefined (the caller reads the account to say which).
   * The statement locks the account's row, so a login and a disable of it never interleave.
   */
  recordLogin(input: { sub: string; address: string; walletType: WalletType; at: Date }, event?: LoginEvent): Promise<Account | undefined>;
  find(sub: string): Promise<Account | undefined>;
  /** The accounts of an address in any letter case (one per chain when the subject names the chain). */
  findByAddress(address: string): Promise<Account[]>;
  /** Newest login first. */
  list(limit: number): Promise<Account[]>;
  /** Disables (`disabled` given) or enables (null) these accounts; returns those that changed. */
  setDisabled(subs: string[], disabled: { at: Date; reason: string | undefined } | null): Promise<string[]>;
}

export interface StoredClient extends ClientMetadata {
  client_id: string;
  created_at?: string;
  updated_at?: string;
}

export interface ClientStore {
  /** Stores metadata as given: validate it first (oidc/clients.ts). */
  save(metadata: ClientMetadata): Promise<void>;
  find(clientId: string): Promise<StoredClient | undefined>;
  list(): Promise<StoredClient[]>;
  remove(clientId: string): Promise<boolean>;
}

/** One of oidc-provider's stored models (Session, Interaction, AuthorizationCode, Grant, tokens…). */
export interface StoredPayload {
  /** The id it is stored under (for bearer-secret models, the hash the adapter gave: oidc/adapter.ts). */
  id: string;
  payload: AdapterPayload;
  consumedAt: Date | undefined;
}

/** Storage behind oidc-provider's adapter (oidc/adapter.ts); `model` is the model's name. */
export interface PayloadStore {
  /**
   * Stores the payload, unless the stored one holds any of `unlessStoredHas` (checked and written atomically): false
   * then, and the stored payload is left as it was.
   */
  upsert(model: string, id: string, payload: AdapterPayload, expiresAt: Date | undefined, unlessStoredHas?: readonly string[]): Promise<boolean>;
  find(model: string, id: string): Promise<StoredPayload | undefined>;
  findByUid(model: string, uid: string): Promise<StoredPayload | undefined>;
  findByUserCode(model: string, userCode: string): Promise<StoredPayload | undefined>;
  /** Marks the payload consumed; true only for the one call that found it unconsumed (atomic under concurrency). */
  consume(model: string, id: string, at: Date): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(model: string, grantId: string): Promise<void>;
  /** Deletes the grant and everything issued under it, in every model. */
  revokeGrant(grantId: string): Promise<void>;
  /** Deletes every session, grant, code and token of an account; returns how many rows went. */
  revokeAccount(accountId: string): Promise<number>;
}

/** One signing key as stored: its private JWK and the times that decide its state (oidc/key-states.ts). */
export interface StoredSigningKey {
  kid: string;
  alg: string;
  /** The private JWK, with kid, alg and use. */
  jwk: JWK;
  createdAt: Date;
  /** When it starts signing (published from its creation on, so caching RPs learn it first). */
  activatesAt: Date;
  /** When it was withdrawn from the JWKS for good; undefined while published. */
  retiredAt: Date | undefined;
}

export interface SigningKeyStore {
  /** Every key, retired ones included, oldest first. */
  list(): Promise<StoredSigningKey[]>;
  /**
   * Adds keys (one generation) that start signing at `activatesAt`, unless an unretired key is still pending at `now`
   * (false): the check and the insert are one step, so two `keys rotate` at once never publish two generations.
   */
  add(jwks: JWK[], activatesAt: Date, now: Date): Promise<boolean>;
  /** Sets when an unretired key signs from; false when there is no such key. */
  setActivation(kid: string, at: Date): Promise<boolean>;
  /**
   * Withdraws an unretired key from the JWKS; false when there is no such key, or when its activation time is no longer
   * `activatesAt` (a `keys activate` meanwhile may have made it the signing key).
   */
  retire(kid: string, at: Date, activatesAt: Date): Promise<boolean>;
  /** Generates a key, active at once, for each algorithm that has none unretired (first start, upgrades). */
  ensure(): Promise<void>;
}

/** A human name for an address (ENS later), and its picture. */
export interface ResolvedName {
  name: string;
  picture?: string | undefined;
}

/**
 * Names for the `name`/`nickname`/`picture` claims. Called on every claims read, so it must answer
 * from what it already knows (a cache), never from the network: undefined means "no name known".
 */
export interface NameResolver {
  /**
   * `chainId` is the one chain an account is bound to (a contract wallet: the same address elsewhere may have other
   * owners), undefined when its address is the same key on every chain (an EOA).
   */
  lookup(address: string, chainId?: number): Promise<ResolvedName | undefined>;
  /**
   * Asks for the name of an address that just signed in to be resolved in the background, when it is not known or is
   * due, so that it is usually known by the time the code is exchanged. Returns at once; never fails.
   */
  prepare?(address: string, chainId?: number): void;
}

/** Today's resolver: no names; claims show the shortened address. */
export const noNames: NameResolver = { lookup: async () => undefined };
