// The default allow-list of EVM networks a wallet may sign in from (EIP-155 chain ids).

export const DEFAULT_CHAINS: Readonly<Record<number, string>> = {
  1: 'Ethereum',
  10: 'OP Mainnet',
  56: 'BNB Smart Chain',
  100: 'Gnosis',
  137: 'Polygon',
  324: 'zkSync Era',
  8453: 'Base',
  42161: 'Arbitrum One',
  43114: 'Avalanche C-Chain',
  59144: 'Linea',
  534352: 'Scroll',
};

export function chainName(chainId: number): string {
  return DEFAULT_CHAINS[chainId] ?? `chain ${chainId}`;
}
