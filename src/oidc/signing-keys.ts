// Staged signing-key rotation. The operations (rotate, activate, retire) change the stored times; the running
// key set (`createSigningKeys`) turns them into oidc-provider's JWKS, re-reads them on demand (`reload`), and wakes
// itself at the next activation time, so every instance starts signing with a new key without a restart.
import type { Clock } from '../clock.ts';
import { UsageError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { buildKeySet, keySetFingerprint, type KeySet, type KeyStatus } from './key-states.ts';
import { generateSigningJwk, SIGNING_ALGS } from './keys.ts';
import type { SigningKeyStore } from './ports.ts';

/** setTimeout's largest delay (about 24.8 days); a later activation is reached in several waits. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a failed read (the database away), the next try. */
const RETRY_MS = 30_000;

/** Reads the key set as it is now. */
export async function readKeySet(store: SigningKeyStore, now: Date): Promise<KeySet> {
  return buildKeySet(await store.list(), now);
}

/**
 * `keys rotate`: a new generation (one key per algorithm), published at once, signing `delaySeconds` later.
 * One rotation at a time: a second one while keys are pending would publish keys no one is waiting for.
 */
export async function rotateKeys(store: SigningKeyStore, now: Date, delaySeconds: number): Promise<KeyStatus[]> {
  const pending = (await readKeySet(store, now)).keys.filter((k) => k.state === 'pending');
  if (pending.length) {
    throw new UsageError(`keys are already pending (${pending.map((k) => k.kid).join(', ')}): activate them (keys activate) or retire them first`);
  }
  const jwks = SIGNING_ALGS.map(generateSigningJwk);
  if (!(await store.add(jwks, new Date(now.getTime() + delaySeconds * 1000), now))) {
    throw new UsageError('keys are already pending (another keys rotate published them meanwhile): keys list shows them');
  }
  const kids = new Set(jwks.map((j) => j.kid));
  return (await readKeySet(store, now)).keys.filter((k) => kids.has(k.kid));
}

/**
 * `keys activate [kid]`: the pending keys sign from now, or the one named (a pending key, or a previous one to
 * roll back to). Returns the keys that now sign.
 */
export async function activateKeys(store: SigningKeyStore, now: Date, kid?: string): Promise<KeyStatus[]> {
  const { keys } = await readKeySet(store, now);
  let chosen: KeyStatus[];
  if (kid === undefined) {
    chosen = keys.filter((k) => k.state === 'pending');
    if (!chosen.length) throw new UsageError('no pending keys to activate (keys rotate publishes some)');
  } else {
    const key = keys.find((k) => k.kid === kid);
    if (!key) throw new UsageError(`no signing key with id ${kid}`);
    if (key.state === 'retired') throw new UsageError(`key ${kid} is retired: RPs no longer have it, so it can never sign again`);
    if (key.state === 'active') throw new UsageError(`key ${kid} is already the active ${key.alg} key`);
    chosen = [key];
  }
  for (const k of chosen) {
    if (!(await store.setActivation(k.kid, now))) throw new UsageError(`key ${k.kid} was retired meanwhile`);
  }
  const kids = new Set(chosen.map((k) => k.kid));
  return (await readKeySet(store, now)).keys.filter((k) => kids.has(k.kid));
}

/** `keys retire <kid>`: withdraws a key from the JWKS. The key that signs for its algorithm can never be retired. */
export async function retireKey(store: SigningKeyStore, now: Date, kid: string): Promise<KeyStatus> {
  const key = (await readKeySet(store, now)).keys.find((k) => k.kid === kid);
  if (!key) throw new UsageError(`no signing key with id ${kid}`);
  if (key.state === 'retired') throw new UsageError(`key ${kid} is already retired`);
  if (key.state === 'active') {
    throw new UsageError(`key ${kid} signs ${key.alg} tokens now: activate another ${key.alg} key (keys rotate, keys activate) before retiring it`);
  }
  // Only if no `keys activate` changed it since it was read above: retiring the key that now signs would withdraw it from the JWKS.
  if (!(await store.retire(kid, now, key.activatesAt))) throw new UsageError(`key ${kid} was retired or activated meanwhile: keys list shows it`);
  return { ...key, state: 'retired', retiredAt: now };
}

export interface SigningKeys {
  /** The key set as last read (the one oidc-provider signs with). */
  current(): KeySet;
  /** Reads the keys again and applies a change at once: after a CLI command, or when another instance changed them. */
  reload(): Promise<void>;
  /** Stops the activation timer. */
  close(): void;
}

export interface SigningKeysDeps {
  store: SigningKeyStore;
  clock: Clock;
  logger: Logger;
  /** Called with each new key set whose published or signing keys differ from the last one's. */
  onChange(set: KeySet): void;
}

/** Ensures the keys exist, reads them, and follows their changes. */
export async function startSigningKeys({ store, clock, logger, onChange }: SigningKeysDeps): Promise<SigningKeys> {
  await store.ensure();
  let set = await readKeySet(store, clock());
  let fingerprint = keySetFingerprint(set);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // One read at a time, in order: a slow read never overwrites a newer one's result.
  let queue: Promise<void> = Promise.resolve();

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(() => void reload().catch(() => undefined), Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    // A pending activation never keeps a process alive that is otherwise done.
    timer.unref();
  };
  const scheduleNext = () => {
    if (set.nextActivation) schedule(set.nextActivation.getTime() - clock().getTime());
    else clearTimeout(timer);
  };

  const read = async () => {
    try {
      await store.ensure();
      const next = await readKeySet(store, clock());
      const nextFingerprint = keySetFingerprint(next);
      // The new set is kept only once oidc-provider has accepted it: a failure leaves the last good one serving.
      if (nextFingerprint !== fingerprint) {
        onChange(next);
        logger.info({ signing: next.keys.filter((k) => k.state === 'active').map((k) => k.kid), published: next.jwks.length }, 'signing keys changed');
      }
      fingerprint = nextFingerprint;
      set = next;
    } catch (err) {
      logger.warn({ err }, 'signing keys could not be applied; trying again');
      schedule(RETRY_MS);
      throw err;
    }
    scheduleNext();
  };
  const reload = () => (queue = queue.catch(() => undefined).then(read));

  scheduleNext();
  return {
    current: () => set,
    reload,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
