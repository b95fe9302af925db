// The SignatureVerifier for every wallet: the EOA check first (no network), and only when it cannot
// prove the signature, the chain the message names: EIP-1271 `isValidSignature` for a deployed contract
// wallet, EIP-6492 for one not deployed yet. viem's verifyHash does the chain part (one `eth_call` of the
// EIP-6492 universal validator, deployless); this file bounds it: one RPC per chain (RPC_URLS), whose
// chain id is checked at its first use, a deadline over every call of a check, a cap on their number, and
// a transport that keeps apart a node that answered no (bad_signature) and a node that did not answer
// (verifier_unavailable), which viem folds together.
import { hashMessage } from 'ethers';
import type { EIP1193RequestFn, Hex } from 'viem';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { checkEoaSignature } from './eoa-verifier.ts';
import type { SignatureVerifier } from './ports.ts';
import type { Recover } from './recover.ts';

/** EIP-6492's magic suffix: a signature ending with it wraps a counterfactual wallet's deployment. */
const ERC6492_SUFFIX = '6492649264926492649264926492649264926492649264926492649264926492';
/** ERC-8010's suffix (pre-delegated EIP-7702 accounts): viem would simulate the authorization it carries; not accepted here. */
const ERC8010_SUFFIX = '8010801080108010801080108010801080108010801080108010801080108010';

/**
 * The most RPC calls one check makes: `eth_chainId` at an endpoint's first use, then viem's calls (one
 * `eth_call`; two for an ERC-8010 signature, which reads the code first). A check that would make more fails.
 */
export const MAX_RPC_CALLS_PER_CHECK = 3;

export interface ContractVerifierOptions {
  recover: Recover;
  /** JSON-RPC endpoints by chain id (RPC_URLS). */
  rpcUrls: ReadonlyMap<number, URL>;
  /** The deadline of one check over the chain, every call included (RPC_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
  /** Counts each RPC call by chain and outcome (metrics). */
  onRpcCall?: (chainId: number, outcome: RpcOutcome) => void;
  /** The fetch to reach the RPC with (tests may count calls). */
  fetch?: typeof fetch;
}

/** How an RPC call ended: `ok` (a result), `error` (the node answered with an error), `unavailable` (no usable answer). */
export type RpcOutcome = 'ok' | 'error' | 'unavailable';

/** The node did not answer usably: down, slow, an HTTP error, not JSON-RPC, or over the call cap. */
class RpcUnavailable extends Error {}

/** A JSON-RPC error the node answered with; viem reads `code` and `message` from it (EIP-1193). */
class RpcAnsweredError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/**
 * viem, loaded at the first contract-wallet check: its import takes about 0.4 s, which neither EOA logins, nor the
 * start of the server, nor any CLI command should pay.
 */
let viem: Promise<typeof import('viem')> | undefined;
const loadViem = () => (viem ??= import('viem'));

/** Whether a signature can only be a contract wallet's: not 64 or 65 bytes, or wrapped for EIP-6492. */
export function needsChain(signature: string): boolean {
  const bytes = (signature.length - 2) / 2;
  return (bytes !== 65 && bytes !== 64) || signature.toLowerCase().endsWith(ERC6492_SUFFIX);
}

export function createContractVerifier(opts: ContractVerifierOptions): SignatureVerifier {
  const fetchRpc = opts.fetch ?? fetch;
  /** Endpoints whose `eth_chainId` matched: asked once per process. */
  const checkedChains = new Set<number>();
  let nextId = 1;

  /** One JSON-RPC call; throws RpcUnavailable when there is no usable answer, RpcAnsweredError for the node's own error. */
  async function call(chainId: number, url: URL, method: string, params: unknown, signal: AbortSignal): Promise<unknown> {
    let response: Response;
    let body: { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    try {
      response = await fetchRpc(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
        redirect: 'error',
        signal,
      });
      if (!response.ok) throw new RpcUnavailable(`HTTP ${response.status}`);
      body = (await response.json()) as typeof body;
    } catch (err) {
      opts.onRpcCall?.(chainId, 'unavailable');
      if (err instanceof RpcUnavailable) throw err;
      const name = (err as Error).name;
      throw new RpcUnavailable(name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : `unreachable (${(err as Error).message})`);
    }
    if (body && typeof body === 'object' && body.error) {
      const { code, message, data } = body.error;
      opts.onRpcCall?.(chainId, 'error');
      throw new RpcAnsweredError(typeof code === 'number' ? code : -32603, typeof message === 'string' ? message : 'error', data);
    }
    if (!body || typeof body !== 'object' || !('result' in body)) {
      opts.onRpcCall?.(chainId, 'unavailable');
      throw new RpcUnavailable('not a JSON-RPC answer');
    }
    opts.onRpcCall?.(chainId, 'ok');
    return body.result;
  }

  /**
   * Whether the node refused the call itself (its JSON-RPC error), as opposed to the call's code reverting. A revert
   * (EIP-1474 code 3, or -32000 "execution reverted") is an answer about the signature; anything else (rate limited,
   * method missing, internal error) says nothing about it.
   */
  const isRevert = (err: RpcAnsweredError) => err.code === 3 || /revert/i.test(err.message);

  async function askChain(chainId: number, url: URL, address: string, message: string, signature: string): Promise<boolean> {
    // Loaded before the deadline starts: the first check of a process does not spend its RPC time on an import.
    const { createPublicClient, custom } = await loadViem();
    const signal = AbortSignal.timeout(opts.timeoutMs);
    let calls = 0;
    /** The first reason the node gave no usable answer; viem turns such failures into `false`, so it is kept here. */
    let unavailable: RpcUnavailable | undefined;
    const request = (async ({ method, params }) => {
      try {
        if (++calls > MAX_RPC_CALLS_PER_CHECK) throw new RpcUnavailable(`more than ${MAX_RPC_CALLS_PER_CHECK} RPC calls`);
        return await call(chainId, url, method, params, signal);
      } catch (err) {
        if (err instanceof RpcUnavailable) unavailable ??= err;
        else if (err instanceof RpcAnsweredError && !isRevert(err)) unavailable ??= new RpcUnavailable(`RPC error ${err.code}: ${err.message}`);
        throw err;
      }
    }) as EIP1193RequestFn;
    try {
      const client = createPublicClient({ transport: custom({ request }, { retryCount: 0 }), batch: { multicall: false } });
      if (!checkedChains.has(chainId)) {
        const answered = Number(await client.getChainId());
        if (answered !== chainId) {
          opts.logger.error({ chainId, answered }, 'RPC_URLS: the endpoint for this chain serves another chain; contract wallets cannot sign in on it');
          throw new RpcUnavailable(`the endpoint serves chain ${answered}`);
        }
        checkedChains.add(chainId);
      }
      const valid = await client.verifyHash({ address: address as Hex, hash: hashMessage(message) as Hex, signature: signature as Hex });
      if (!valid && unavailable) throw unavailable;
      return valid;
    } catch (err) {
      if (!unavailable && !(err instanceof RpcUnavailable)) {
        // The node answered, or nothing was asked: what failed is the signature's shape (viem could not decode it).
        opts.logger.debug({ chainId, err: { message: (err as Error).message } }, 'contract wallet check: a signature the verifier could not read');
        return false;
      }
      const cause = unavailable ?? err;
      opts.logger.warn({ chainId, err: { message: (cause as Error).message } }, 'contract wallet check: the RPC gave no usable answer');
      throw new AppError('verifier_unavailable', `chain ${chainId} did not answer the signature check in time; try again`, { cause });
    }
  }

  return {
    checkLocally({ message, signature, address, chainId }) {
      if (!needsChain(signature)) {
        try {
          checkEoaSignature(opts.recover, message, signature, address);
          return { walletType: 'eoa' };
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          // Not the address's own key: a contract wallet may still have signed (a Safe with one owner returns 65 bytes).
          if (!opts.rpcUrls.has(chainId)) {
            // Most likely the wrong key; a 65-byte contract signature cannot be told apart without the chain.
            throw new AppError(
              'bad_signature',
              `the signature was not made by the address's own key (contract wallets need an RPC for chain ${chainId}, which is not configured)`,
            );
          }
        }
      }
      if (!opts.rpcUrls.has(chainId)) {
        throw new AppError(
          'contract_wallet_unsupported',
          `the signature is not from the address's own key, and contract wallets cannot sign in on chain ${chainId} here (no RPC configured)`,
        );
      }
      return undefined;
    },

    async checkOnChain({ message, signature, address, chainId }) {
      const url = opts.rpcUrls.get(chainId);
      if (!url) throw new AppError('contract_wallet_unsupported', `contract wallets cannot sign in on chain ${chainId} here (no RPC configured)`);
      if (signature.toLowerCase().endsWith(ERC8010_SUFFIX)) {
        throw new AppError('bad_signature', 'ERC-8010 signatures (pre-delegated EIP-7702 accounts) are not accepted; sign with the account itself');
      }
      if (!(await askChain(chainId, url, address, message, signature))) {
        throw new AppError('bad_signature', 'the signature was not made by the address in the message, nor accepted by its contract');
      }
      return { walletType: 'contract' };
    },
  };
}
