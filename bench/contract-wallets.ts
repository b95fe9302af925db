// The benchmark's contract-wallet part (`npm run bench`): a local Hardhat chain with Safe 1.4.1
// (test/helpers/chain.ts), Safes for the load generator to sign in with (deployed: EIP-1271;
// counterfactual: EIP-6492), and an RPC that cannot answer: a port nothing listens on, and a black hole
// that accepts connections and never answers.
import fs from 'node:fs';
import net, { type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Wallet } from 'ethers';
import { deploySafes, startChain, type LocalChain, type Safes } from '../test/helpers/chain.ts';
import { freePort } from '../test/helpers/process.ts';

/** A contract wallet the load generator signs in with: a Safe with one owner, and for EIP-6492 its deployment. */
export interface ContractWallet {
  address: string;
  ownerKey: string;
  /** Present for a Safe not deployed yet: the factory call a wrapped (EIP-6492) signature carries. */
  deployment?: { factory: string; factoryData: string };
}

export interface BenchChain {
  chain: LocalChain;
  /** Writes `count` new Safes of `kind` to a file for the load generator (bench/loadgen.ts `walletsFile`). */
  walletsFile(kind: 'deployed' | 'counterfactual', count: number): Promise<string>;
  close(): Promise<void>;
}

/** Starts the chain and deploys Safe 1.4.1's contracts on it. */
export async function startBenchChain(): Promise<BenchChain> {
  const chain = await startChain();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wallet-oidc-bench-'));
  let files = 0;
  let salt = 1_000_000n;
  try {
    const safes: Safes = await deploySafes(chain);
    return {
      chain,
      async walletsFile(kind, count) {
        const wallets: ContractWallet[] = [];
        // One at a time: an automining node takes no queue of transactions from one sender.
        for (let i = 0; i < count; i++) {
          const owner = Wallet.createRandom();
          if (kind === 'deployed') wallets.push({ address: await safes.create([owner.address]), ownerKey: owner.privateKey });
          else {
            const { address, factory, factoryData } = await safes.counterfactual([owner.address], salt++);
            wallets.push({ address, ownerKey: owner.privateKey, deployment: { factory, factoryData } });
          }
        }
        const file = path.join(dir, `${kind}-${files++}.json`);
        fs.writeFileSync(file, JSON.stringify(wallets));
        return file;
      },
      async close() {
        fs.rmSync(dir, { recursive: true, force: true });
        await chain.stop();
      },
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    await chain.stop();
    throw err;
  }
}

/** An RPC URL on a loopback port nothing listens on: every call is refused at once. */
export async function refusedRpc(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/`;
}

/** An RPC that accepts every connection and never answers: every call waits for the verifier's deadline. */
export async function blackHoleRpc(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined).once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
