// The user's injected wallet (EIP-1193, window.ethereum) through viem: connect, send what the API
// built, follow it to its receipt. The page never sees a key.
import { createClient, custom, type Address, type EIP1193Provider, type Hex, type TransactionReceipt } from "viem";
// Actions one by one, not the clients that carry them all: the page ships only what it calls.
import {
  getBlock,
  getChainId,
  readContract,
  requestAddresses,
  sendTransaction,
  signMessage as sign,
  signTypedData,
  waitForTransactionReceipt,
} from "viem/actions";
import type { UnsignedTx } from "./api";
import type { orderTypedData } from "./orders";

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export interface Connection {
  address: Address;
  chainId: number;
}

/** What went wrong with the wallet, said so a person knows what to do next. */
export class WalletError extends Error {
  constructor(
    readonly code: "no_wallet" | "rejected" | "wrong_network" | "reverted" | "failed",
    message: string,
    readonly chainId?: number, // wrong_network: the market's chain, to switch to
  ) {
    super(message);
    this.name = "WalletError";
  }
}

let connection: Connection | null = null;
const listeners = new Set<(c: Connection | null) => void>();

function provider(): EIP1193Provider {
  if (!window.ethereum) throw new WalletError("no_wallet", "No wallet found: install a browser wallet, then reload.");
  return window.ethereum;
}

function client() {
  return createClient({ transport: custom(provider()) });
}

/** A wallet's refusal (EIP-1193 code 4001) as the page says it; anything else as it came. */
export function explain(error: unknown, doing: string): WalletError {
  if (error instanceof WalletError) return error;
  const e = error as { code?: number; cause?: { code?: number }; shortMessage?: string; message?: string };
  if (e.code === 4001 || e.cause?.code === 4001)
    return new WalletError("rejected", `You declined ${doing} in your wallet; nothing was sent.`);
  return new WalletError("failed", `${doing} failed: ${e.shortMessage ?? e.message ?? String(error)}`);
}

export function current(): Connection | null {
  return connection;
}

export function onChange(listener: (c: Connection | null) => void): void {
  listeners.add(listener);
}

export async function connect(): Promise<Connection> {
  try {
    const c = client();
    const [address] = await requestAddresses(c);
    connection = { address, chainId: await getChainId(c) };
  } catch (error) {
    throw explain(error, "connecting");
  }
  for (const listener of listeners) listener(connection);
  return connection;
}

/** Throws a wrong_network WalletError unless the wallet is on `chainId`, the market's chain. */
export async function checkChain(chainId: number): Promise<void> {
  const on = await getChainId(client());
  if (on !== chainId)
    throw new WalletError(
      "wrong_network",
      `Your wallet is on chain ${on}; this market is on chain ${chainId}. Switch networks in your wallet, then try again.`,
      chainId,
    );
}

/** Sends `tx` from the connected account on the chain the API built it for; the transaction's hash. */
export async function send(tx: UnsignedTx): Promise<Hex> {
  const c = client();
  await checkChain(tx.chainId);
  try {
    return await sendTransaction(c, {
      account: tx.from as Address,
      to: tx.to as Address,
      data: tx.data as Hex,
      value: BigInt(tx.value),
      gas: BigInt(tx.gas),
      chain: null, // checked above against the API's chain id
    });
  } catch (error) {
    throw explain(error, "the transaction");
  }
}

export async function receipt(hash: Hex): Promise<TransactionReceipt> {
  const found = await waitForTransactionReceipt(client(), { hash, pollingInterval: 250 });
  if (found.status !== "success")
    throw new WalletError("reverted", `The transaction ${hash} was mined in block ${found.blockNumber} but reverted; nothing changed.`);
  return found;
}

/** `message` signed by `address` (EIP-191 personal_sign), for signing in. */
export async function signMessage(address: Address, message: string): Promise<Hex> {
  try {
    return await sign(client(), { account: address, message });
  } catch (error) {
    throw explain(error, "the sign-in");
  }
}

/** The chain's clock: the latest block's timestamp (a local chain may run ahead of the wall's). */
export async function chainTime(): Promise<bigint> {
  return (await getBlock(client(), { blockTag: "latest" })).timestamp;
}

const COUNTER_ABI = [
  {
    type: "function",
    name: "counter",
    stateMutability: "view",
    inputs: [{ name: "maker", type: "address" }],
    outputs: [{ name: "", type: "uint256" }],
  },
] as const;

/** The maker's order counter on the Exchange now: an order signed with another is not fillable. */
export function orderCounter(exchange: string, maker: string): Promise<bigint> {
  return readContract(client(), {
    address: exchange as Address,
    abi: COUNTER_ABI,
    functionName: "counter",
    args: [maker as Address],
  });
}

const VAULT_ABI = [
  { type: "function", name: "balanceOf", stateMutability: "view", inputs: [{ name: "owner", type: "address" }], outputs: [{ name: "", type: "uint256" }] },
  { type: "function", name: "maxWithdraw", stateMutability: "view", inputs: [{ name: "owner", type: "address" }], outputs: [{ name: "", type: "uint256" }] },
] as const;

/** A lender's vault shares in `pool` and the stablecoin they can withdraw now (ERC-4626 maxWithdraw). */
export async function vaultOf(pool: string, owner: string): Promise<{ shares: bigint; assets: bigint }> {
  const read = (functionName: "balanceOf" | "maxWithdraw") =>
    readContract(client(), { address: pool as Address, abi: VAULT_ABI, functionName, args: [owner as Address] });
  const [shares, assets] = await Promise.all([read("balanceOf"), read("maxWithdraw")]);
  return { shares, assets };
}

/** An order's EIP-712 typed data signed by `address` (eth_signTypedData_v4), on the order's chain only. */
export async function signOrder(address: Address, typed: ReturnType<typeof orderTypedData>, doing: string): Promise<Hex> {
  await checkChain(typed.domain.chainId);
  try {
    return await signTypedData(client(), { account: address, ...typed });
  } catch (error) {
    throw explain(error, doing);
  }
}

/** Asks the wallet to switch to `chainId` (EIP-3326 wallet_switchEthereumChain). */
export async function switchChain(chainId: number): Promise<void> {
  try {
    await provider().request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${chainId.toString(16)}` }] });
  } catch (error) {
    throw explain(error, "switching networks");
  }
  if (connection) {
    connection = { ...connection, chainId };
    for (const listener of listeners) listener(connection);
  }
}

/** Typed data as the API wrote it, signed by `address` (eth_signTypedData_v4) on its domain's chain only. */
export async function signTypedJson(
  address: Address,
  typed: { domain: { chainId: number } },
  doing: string,
): Promise<Hex> {
  await checkChain(typed.domain.chainId);
  const json = JSON.stringify(typed, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  try {
    return await provider().request({ method: "eth_signTypedData_v4", params: [address, json] });
  } catch (error) {
    throw explain(error, doing);
  }
}
