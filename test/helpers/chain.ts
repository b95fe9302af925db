// A real local EVM node for the contract-wallet and ENS tests: Hardhat's node (EDR) as a child process,
// and the published contract artifacts deployed on it: Safe 1.4.1 (singleton, proxy factory, fallback
// handler) and ENS (registry, reverse registrar, public resolver). Nothing here fakes a signature check.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  AbiCoder,
  BaseWallet,
  Contract,
  ContractFactory,
  EnsPlugin,
  hashMessage,
  id,
  JsonRpcProvider,
  namehash,
  Network,
  NonceManager,
  Wallet,
  ZeroAddress,
  concat,
  type InterfaceAbi,
  type Signer,
} from 'ethers';
import { freePort, ROOT } from './process.ts';

const require = createRequire(import.meta.url);

/** The chain id the node runs (test/fixtures/chain/hardhat.config.cjs). */
export const LOCAL_CHAIN_ID = 31337;

/** Hardhat's first default account: funded on every start (public test key, never used elsewhere). */
const DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

const safeArtifact = (file: string): Artifact => require(`@safe-global/safe-contracts/build/artifacts/contracts/${file}`) as Artifact;
const ensArtifact = (name: string): Artifact => require(`@ensdomains/ens/build/contracts/${name}.json`) as Artifact;
const resolverArtifact = (name: string): Artifact => require(`@ensdomains/resolver/build/contracts/${name}.json`) as Artifact;

export interface LocalChain {
  /** http://127.0.0.1:<port>/ */
  url: string;
  chainId: number;
  /** The node's process id (the benchmark reads its CPU time). */
  pid: number;
  /** An ethers provider on the node (ENS-aware once ens() has deployed the registry). */
  provider: JsonRpcProvider;
  /** Funded, with its nonces managed: sends every deployment and set-up transaction. */
  deployer: Signer;
  /** Stops the node (SIGKILL when `hard`: the RPC vanishes mid-request, as in a crash). Idempotent. */
  stop(hard?: boolean): Promise<void>;
  /** What the node printed, for failure messages. */
  output(): string;
}

/**
 * Starts Hardhat's node on a free port and waits for the line that says it listens. Fails as soon as the node exits,
 * or after a generous deadline (a loaded machine is slow, not broken).
 */
export async function startChain(ceilingMs = 120_000): Promise<LocalChain> {
  const port = await freePort();
  const cli = path.join(path.dirname(require.resolve('hardhat/package.json')), 'internal', 'cli', 'cli.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'node', '--config', path.join(ROOT, 'test', 'fixtures', 'chain', 'hardhat.config.cjs'), '--hostname', '127.0.0.1', '--port', String(port)],
    { cwd: ROOT, env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the Hardhat node did not start within ${ceilingMs / 1000} s:\n${output}`));
    }, ceilingMs);
    const onData = (d: Buffer) => {
      output += d;
      if (output.includes('Started HTTP and WebSocket JSON-RPC server')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Hardhat node exited (${code}) before listening:\n${output}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}/`;
  const network = new Network('hardhat', LOCAL_CHAIN_ID);
  const provider = new JsonRpcProvider(url, network, { staticNetwork: network, pollingInterval: 20, batchMaxCount: 1, cacheTimeout: -1 });
  const deployer = new NonceManager(new Wallet(DEPLOYER_KEY, provider));
  let stopped = false;
  return {
    url,
    chainId: LOCAL_CHAIN_ID,
    pid: child.pid!,
    provider,
    deployer,
    output: () => output,
    async stop(hard = false) {
      if (!stopped) {
        stopped = true;
        provider.destroy();
        child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      }
      await exited;
    },
  };
}

async function deploy(signer: Signer, artifact: Artifact, ...args: unknown[]): Promise<Contract> {
  const contract = await new ContractFactory(artifact.abi, artifact.bytecode, signer).deploy(...args);
  await contract.waitForDeployment();
  return contract as Contract;
}

/** Sends a transaction through a contract method and waits for it to be mined; fails when it reverted. */
async function send(contract: Contract, method: string, ...args: unknown[]): Promise<void> {
  const tx = (await contract.getFunction(method)(...args)) as { wait(): Promise<{ status: number | null } | null> };
  const receipt = await tx.wait();
  if (receipt?.status !== 1) throw new Error(`${method} reverted`);
}

/** EIP-6492's magic suffix (the last 32 bytes of a wrapped signature). */
export const ERC6492_SUFFIX = '0x6492649264926492649264926492649264926492649264926492649264926492';

/**
 * What a Safe owner's wallet returns for personal_sign of `message` through the Safe on `chainId`: owners' ECDSA
 * signatures over the Safe's EIP-712 SafeMessage of the message's EIP-191 hash, checked by the fallback handler
 * (EIP-1271). Needs no node: the benchmark's load generator signs with it.
 */
export async function safeSignature(chainId: number, safe: string, message: string, owners: BaseWallet[]): Promise<string> {
  // The Safe's own hash of the message, as its fallback handler computes it (getMessageHashForSafe).
  const safeMessage = AbiCoder.defaultAbiCoder().encode(['bytes32'], [hashMessage(message)]);
  const domain = { chainId, verifyingContract: safe };
  const types = { SafeMessage: [{ name: 'message', type: 'bytes' }] };
  // Owners' signatures sorted by owner address, as Safe's checkSignatures requires.
  const sorted = [...owners].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
  const signatures = await Promise.all(sorted.map((owner) => owner.signTypedData(domain, types, { message: safeMessage })));
  return concat(signatures);
}

/** Wraps a signature for a counterfactual wallet (EIP-6492): abi.encode(factory, factoryData, signature) ++ magic. */
export function wrap6492(counterfactual: { factory: string; factoryData: string }, signature: string): string {
  const encoded = AbiCoder.defaultAbiCoder().encode(['address', 'bytes', 'bytes'], [counterfactual.factory, counterfactual.factoryData, signature]);
  return concat([encoded, ERC6492_SUFFIX]);
}

export interface Safes {
  singleton: Contract;
  factory: Contract;
  fallbackHandler: Contract;
  /** Deploys a Safe owned by `owners` (threshold 1 unless given) and returns its address. */
  create(owners: string[], opts?: { threshold?: number; saltNonce?: bigint }): Promise<string>;
  /** A Safe that is not deployed yet: its address, and the factory call that would deploy it (for EIP-6492). */
  counterfactual(owners: string[], saltNonce: bigint): Promise<{ address: string; factory: string; factoryData: string }>;
  /**
   * What a Safe owner's wallet returns for personal_sign of `message` through the Safe: owners' ECDSA signatures
   * over the Safe's EIP-712 SafeMessage of the message's EIP-191 hash, checked by the fallback handler (EIP-1271).
   */
  sign(safe: string, message: string, owners: BaseWallet[]): Promise<string>;
  /** Wraps a signature for a counterfactual Safe (EIP-6492): abi.encode(factory, factoryData, signature) ++ magic. */
  wrap6492(counterfactual: { factory: string; factoryData: string }, signature: string): string;
  /** Replaces `oldOwner` by `newOwner` through the Safe itself (a transaction signed by `signer`, an owner). */
  swapOwner(safe: string, oldOwner: string, newOwner: string, signer: BaseWallet): Promise<void>;
}

/** Deploys Safe 1.4.1's singleton, proxy factory and compatibility fallback handler (which answers EIP-1271). */
export async function deploySafes(chain: LocalChain): Promise<Safes> {
  const singleton = await deploy(chain.deployer, safeArtifact('Safe.sol/Safe.json'));
  const factory = await deploy(chain.deployer, safeArtifact('proxies/SafeProxyFactory.sol/SafeProxyFactory.json'));
  const fallbackHandler = await deploy(chain.deployer, safeArtifact('handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json'));
  const singletonAddress = await singleton.getAddress();
  const handlerAddress = await fallbackHandler.getAddress();
  const initializer = (owners: string[], threshold: number) =>
    singleton.interface.encodeFunctionData('setup', [owners, threshold, ZeroAddress, '0x', handlerAddress, ZeroAddress, 0, ZeroAddress]);
  const safeAt = (address: string) => new Contract(address, safeArtifact('Safe.sol/Safe.json').abi, chain.provider);
  let nextSalt = 1n;

  return {
    singleton,
    factory,
    fallbackHandler,
    async create(owners, opts = {}) {
      const saltNonce = opts.saltNonce ?? nextSalt++;
      const args = [singletonAddress, initializer(owners, opts.threshold ?? 1), saltNonce];
      const address = (await factory.getFunction('createProxyWithNonce').staticCall(...args)) as string;
      await send(factory, 'createProxyWithNonce', ...args);
      return address;
    },
    async counterfactual(owners, saltNonce) {
      const args = [singletonAddress, initializer(owners, 1), saltNonce];
      const address = (await factory.getFunction('createProxyWithNonce').staticCall(...args)) as string;
      return { address, factory: await factory.getAddress(), factoryData: factory.interface.encodeFunctionData('createProxyWithNonce', args) };
    },
    sign: (safe, message, owners) => safeSignature(chain.chainId, safe, message, owners),
    wrap6492,
    async swapOwner(safe, oldOwner, newOwner, signer) {
      const contract = safeAt(safe);
      const owners = (await contract.getFunction('getOwners')()) as string[];
      const index = owners.findIndex((o) => o.toLowerCase() === oldOwner.toLowerCase());
      if (index < 0) throw new Error(`${oldOwner} does not own ${safe}`);
      // Safe's owner list is linked: the owner before oldOwner, or the sentinel 0x…01 for the first.
      const previous = index === 0 ? '0x0000000000000000000000000000000000000001' : owners[index - 1]!;
      const data = contract.interface.encodeFunctionData('swapOwner', [previous, oldOwner, newOwner]);
      const nonce = (await contract.getFunction('nonce')()) as bigint;
      const tx = { to: safe, value: 0, data, operation: 0, safeTxGas: 0, baseGas: 0, gasPrice: 0, gasToken: ZeroAddress, refundReceiver: ZeroAddress, nonce };
      const signature = await signer.signTypedData(
        { chainId: chain.chainId, verifyingContract: safe },
        {
          SafeTx: [
            { name: 'to', type: 'address' },
            { name: 'value', type: 'uint256' },
            { name: 'data', type: 'bytes' },
            { name: 'operation', type: 'uint8' },
            { name: 'safeTxGas', type: 'uint256' },
            { name: 'baseGas', type: 'uint256' },
            { name: 'gasPrice', type: 'uint256' },
            { name: 'gasToken', type: 'address' },
            { name: 'refundReceiver', type: 'address' },
            { name: 'nonce', type: 'uint256' },
          ],
        },
        tx,
      );
      const connected = contract.connect(chain.deployer) as Contract;
      await send(
        connected,
        'execTransaction',
        tx.to,
        tx.value,
        tx.data,
        tx.operation,
        tx.safeTxGas,
        tx.baseGas,
        tx.gasPrice,
        tx.gasToken,
        tx.refundReceiver,
        signature,
      );
    },
  };
}

export interface Ens {
  registry: string;
  /** A provider that reads this registry (ethers' lookupAddress, getResolver): for assertions. */
  provider: JsonRpcProvider;
  /** Registers `label`.eth to `owner` with its address record pointing at `address` (default: the owner's). */
  register(label: string, owner: Wallet, opts?: { address?: string; avatar?: string }): Promise<string>;
  /** Sets the primary name of `wallet` (its reverse record) to `name`, as the wallet itself would. */
  setPrimaryName(wallet: Wallet, name: string): Promise<void>;
  /** Points the address record of `name` elsewhere (its owner signs). */
  setAddress(name: string, owner: Wallet, address: string): Promise<void>;
  setAvatar(name: string, owner: Wallet, avatar: string): Promise<void>;
}

/**
 * Deploys the ENS registry, a public resolver and the reverse registrar (addr.reverse), owns `eth` with the
 * deployer. Names are `<label>.eth`, owned by the wallets given.
 */
export async function deployEns(chain: LocalChain): Promise<Ens> {
  const registry = await deploy(chain.deployer, ensArtifact('ENSRegistry'));
  const registryAddress = await registry.getAddress();
  const resolver = await deploy(chain.deployer, resolverArtifact('PublicResolver'), registryAddress);
  const resolverAddress = await resolver.getAddress();
  const reverse = await deploy(chain.deployer, ensArtifact('ReverseRegistrar'), registryAddress, resolverAddress);
  const deployerAddress = await chain.deployer.getAddress();
  const ZERO = '0x' + '00'.repeat(32);
  await send(registry, 'setSubnodeOwner', ZERO, id('eth'), deployerAddress);
  await send(registry, 'setSubnodeOwner', ZERO, id('reverse'), deployerAddress);
  await send(registry, 'setSubnodeOwner', namehash('reverse'), id('addr'), await reverse.getAddress());
  const network = new Network('hardhat', chain.chainId);
  network.attachPlugin(new EnsPlugin(registryAddress, chain.chainId));
  const ensProvider = new JsonRpcProvider(chain.url, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });

  const fund = async (wallet: Wallet) => {
    const balance = await chain.provider.getBalance(wallet.address);
    if (balance < 10n ** 17n) {
      const tx = await chain.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n });
      await tx.wait();
    }
    return wallet.connect(chain.provider);
  };
  const asOwner = async (contract: Contract, owner: Wallet) => contract.connect(await fund(owner)) as Contract;

  return {
    registry: registryAddress,
    provider: ensProvider,
    async register(label, owner, opts = {}) {
      const name = `${label}.eth`;
      const node = namehash(name);
      await send(registry, 'setSubnodeRecord', namehash('eth'), id(label), owner.address, resolverAddress, 0);
      const own = await asOwner(resolver, owner);
      await send(own, 'setAddr(bytes32,address)', node, opts.address ?? owner.address);
      if (opts.avatar) await send(own, 'setText', node, 'avatar', opts.avatar);
      return name;
    },
    async setPrimaryName(wallet, name) {
      await send(await asOwner(reverse, wallet), 'setName', name);
    },
    async setAddress(name, owner, address) {
      await send(await asOwner(resolver, owner), 'setAddr(bytes32,address)', namehash(name), address);
    },
    async setAvatar(name, owner, avatar) {
      await send(await asOwner(resolver, owner), 'setText', namehash(name), 'avatar', avatar);
    },
  };
}
