// Reads one address's ENS primary name and avatar over ENS_CHAIN's RPC, with ethers v6: the primary name by
// reverse resolution, accepted only when the name's forward record gives the address back (ethers'
// lookupAddress does both on its legacy path, used here because no Universal Resolver is configured), and
// the name's `avatar` text record when it is a plain https URL. Nothing else is fetched: CCIP-read
// (EIP-3668) is off, so a resolver cannot make this server request a URL of its choosing. Every call of
// one read shares one deadline (RPC_TIMEOUT_MS), and a transport keeps apart a chain that answered
// "no name" and a chain that could not be asked, which ethers folds together.
import { EnsPlugin, ensNormalize, FetchRequest, isError, JsonRpcProvider, Network } from 'ethers';
import type { NameAnswer } from './ports.ts';

/** The longest avatar URL passed on, and the longest name (a DNS name's limit). */
const MAX_AVATAR_LENGTH = 2048;
const MAX_NAME_LENGTH = 255;

/** How an RPC call ended: `ok` (a result), `error` (the node answered with an error), `unavailable` (no usable answer). */
export type RpcOutcome = 'ok' | 'error' | 'unavailable';

/** The chain could not be asked (down, slow, an HTTP or JSON-RPC error, another chain): not an answer. */
export class EnsUnavailable extends Error {}

export interface EnsReaderOptions {
  chainId: number;
  rpcUrl: URL;
  /** The ENS registry on `chainId` (ENS_REGISTRY). */
  registry: string;
  /** The deadline of one read, every call included (RPC_TIMEOUT_MS). */
  timeoutMs: number;
  /** Counts each RPC call by how it ended (metrics). */
  onRpcCall?: (outcome: RpcOutcome) => void;
  /** The fetch to reach the RPC with. */
  fetch?: typeof fetch;
}

export interface EnsReader {
  /** The verified primary name of `address` and its avatar, or null for "no name"; throws EnsUnavailable. `signal` aborts it. */
  read(address: string, signal: AbortSignal): Promise<NameAnswer>;
}

/**
 * The avatar passed on as `picture`: an `https:` URL of sane length, without credentials or blanks; anything else is not.
 * ENSIP-12 also allows `ipfs:`, `data:` and NFT references (`eip155:1/erc721:…`), which a relying party cannot show as
 * they are: an NFT needs its owner checked on chain and its metadata fetched from wherever its contract points, an
 * `ipfs:` URL needs a gateway chosen for every RP. Doing that here would make this server fetch URLs a name's owner
 * picks (a request forgery risk) for a cosmetic claim, so those avatars are left out.
 */
export function acceptAvatar(value: string | null | undefined): string | undefined {
  if (!value || value.length > MAX_AVATAR_LENGTH || /[\s\p{Cc}]/u.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' && !url.username && !url.password && url.hostname ? url.href : undefined;
}

/** A name shown as it is stored: already normalized (ENSIP-15), so no look-alike spelling passes for another. */
function acceptName(name: string): boolean {
  try {
    return name.length <= MAX_NAME_LENGTH && ensNormalize(name) === name;
  } catch {
    return false;
  }
}

/** A JSON-RPC error that is the call's code reverting (EIP-1474 code 3, or "execution reverted"): an answer about ENS. */
const isRevert = (error: { code?: unknown; message?: unknown }) => error.code === 3 || /revert/i.test(String(error.message));

export function createEnsReader(opts: EnsReaderOptions): EnsReader {
  const fetchRpc = opts.fetch ?? fetch;
  const network = new Network(`ens-${opts.chainId}`, opts.chainId);
  network.attachPlugin(new EnsPlugin(opts.registry, opts.chainId));
  /** Whether the endpoint answered `eth_chainId` with ENS_CHAIN: asked once per process. */
  let chainChecked = false;

  return {
    async read(address, signal) {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)]);
      /** The first reason a call gave no usable answer: whatever ethers made of it, the read is then a failure. */
      let problem: string | undefined;
      const fail = (outcome: RpcOutcome, why: string) => {
        opts.onRpcCall?.(outcome);
        problem ??= why;
      };
      const connection = new FetchRequest(opts.rpcUrl.href);
      connection.timeout = opts.timeoutMs;
      connection.setThrottleParams({ maxAttempts: 1 });
      connection.getUrlFunc = async (req) => {
        let response: Response;
        let body: Uint8Array;
        try {
          response = await fetchRpc(req.url, {
            method: req.method,
            headers: req.headers,
            body: req.body as Uint8Array<ArrayBuffer> | null,
            redirect: 'error',
            signal: deadline,
          });
          body = new Uint8Array(await response.arrayBuffer());
        } catch (err) {
          const name = (err as Error).name;
          fail('unavailable', name === 'TimeoutError' ? 'timed out' : name === 'AbortError' ? 'closing' : `unreachable (${(err as Error).message})`);
          throw err;
        }
        let answer: { result?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
        try {
          answer = JSON.parse(Buffer.from(body).toString('utf8')) as typeof answer;
        } catch {
          answer = undefined;
        }
        if (!response.ok || !answer || typeof answer !== 'object') fail('unavailable', response.ok ? 'not a JSON-RPC answer' : `HTTP ${response.status}`);
        else if (answer.error && isRevert(answer.error)) opts.onRpcCall?.('error');
        else if (answer.error) fail('error', `RPC error ${String(answer.error.code)}: ${String(answer.error.message)}`);
        else opts.onRpcCall?.('ok');
        return { statusCode: response.status, statusMessage: response.statusText, headers: Object.fromEntries(response.headers), body };
      };
      const provider = new JsonRpcProvider(connection, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
      provider.disableCcipRead = true;
      try {
        if (!chainChecked) {
          const answered = Number(await provider.send('eth_chainId', []));
          if (answered !== opts.chainId) throw new EnsUnavailable(`the RPC_URLS endpoint for ENS_CHAIN serves chain ${answered}`);
          chainChecked = true;
        }
        const name = await provider.lookupAddress(address);
        let answer: NameAnswer = null;
        if (name && acceptName(name)) {
          const resolver = await provider.getResolver(name);
          answer = { name, avatar: acceptAvatar(await resolver?.getText('avatar')) };
        }
        if (problem) throw new EnsUnavailable(problem);
        return answer;
      } catch (err) {
        if (err instanceof EnsUnavailable) throw err;
        if (problem) throw new EnsUnavailable(problem, { cause: err });
        // The chain answered, with data that is no usable name (a resolver that reverts or returns nothing).
        if (isError(err, 'CALL_EXCEPTION') || isError(err, 'BAD_DATA') || isError(err, 'INVALID_ARGUMENT')) return null;
        throw new EnsUnavailable((err as Error).message, { cause: err });
      } finally {
        provider.destroy();
      }
    },
  };
}
