// Resale orders as the Exchange reads them: the EIP-712 typed data a holder signs, checked and built
// here from what the page's form holds, and the body `POST /orders` takes. Pure: no wallet, no DOM.
import { parseUsd } from "./money";

/** The Exchange's EIP-712 `Order`, field for field (backend/chain/orders.py ORDER_FIELDS). */
export const ORDER_TYPES = {
  Order: [
    { name: "maker", type: "address" },
    { name: "kind", type: "uint8" },
    { name: "capacityId", type: "uint256" },
    { name: "amount", type: "uint256" },
    { name: "price", type: "uint256" },
    { name: "expiry", type: "uint256" },
    { name: "salt", type: "uint256" },
    { name: "counter", type: "uint256" },
  ],
} as const;

export const ORDER_KIND = { primary_sell: 0, sell: 1, buy: 2 } as const;

export interface OrderMessage {
  maker: `0x${string}`;
  kind: number;
  capacityId: bigint;
  amount: bigint;
  price: bigint;
  expiry: bigint;
  salt: bigint;
  counter: bigint;
}

export function orderDomain(chainId: number, exchange: string) {
  return { name: "gpuhours Exchange", version: "1", chainId, verifyingContract: exchange as `0x${string}` } as const;
}

/** The typed data the maker signs (eth_signTypedData_v4). */
export function orderTypedData(message: OrderMessage, chainId: number, exchange: string) {
  return { domain: orderDomain(chainId, exchange), types: ORDER_TYPES, primaryType: "Order" as const, message };
}

/** A uniformly random 256-bit salt, so two orders with the same terms hash apart. */
export function randomSalt(
  random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer> = (b) => crypto.getRandomValues(b),
): bigint {
  const bytes = random(new Uint8Array(32));
  return BigInt(`0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`);
}

/** A resale as the form holds it: text as typed. */
export interface ResaleForm {
  amount: string; // GPU-hours
  price: string; // dollars per GPU-hour
  expiresInHours: string;
}

export interface Resale {
  amount: bigint;
  price: bigint;
  expiresIn: number; // seconds
}

/** The form's values checked against what the holder has; a sentence naming the field when wrong. */
export function checkResale(form: ResaleForm, held: number): Resale | string {
  const amount = form.amount.trim();
  if (!/^\d+$/.test(amount) || Number(amount) < 1 || Number(amount) > held)
    return held < 1 ? "You hold none of these GPU-hours to sell." : `GPU-hours: a whole number from 1 to ${held}.`;
  const price = parseUsd(form.price);
  if (price === null || price <= 0n) return "Price: dollars per GPU-hour above zero, such as 2.40.";
  const hours = form.expiresInHours.trim();
  if (!/^\d+$/.test(hours) || Number(hours) < 1 || Number(hours) > 24 * 365)
    return "Expires in: a whole number of hours, from 1 to 8760.";
  return { amount: BigInt(amount), price, expiresIn: Number(hours) * 3600 };
}

/** A sell order of `resale` for `maker`, expiring `resale.expiresIn` after the chain's clock `now`. */
export function sellOrder(
  maker: string,
  capacityId: number,
  resale: Resale,
  now: bigint,
  counter: bigint,
  salt: bigint,
): OrderMessage {
  return {
    maker: maker as `0x${string}`,
    kind: ORDER_KIND.sell,
    capacityId: BigInt(capacityId),
    amount: resale.amount,
    price: resale.price,
    expiry: now + BigInt(resale.expiresIn),
    salt,
    counter,
  };
}

/**
 * `POST /orders`'s body: the message with every uint256 as a decimal string (exact past 2^53), the
 * signature, and the domain's chain and contract so a wrong domain is named as such.
 */
export function orderBody(m: OrderMessage, signature: string, chainId: number, exchange: string): string {
  return JSON.stringify({
    maker: m.maker,
    kind: m.kind,
    capacityId: m.capacityId.toString(),
    amount: m.amount.toString(),
    price: m.price.toString(),
    expiry: m.expiry.toString(),
    salt: m.salt.toString(),
    counter: m.counter.toString(),
    signature,
    chainId,
    verifyingContract: exchange,
  });
}

/** What is left to do with an order in `state`: null when it can be cancelled, else why not. */
export function whyNotCancellable(state: string): string | null {
  switch (state) {
    case "open":
    case "partially_filled":
      return null;
    case "filled":
      return "This order was already filled in full: there is nothing left to cancel.";
    case "expired":
      return "This order has expired: it can no longer be filled, so there is nothing to cancel.";
    case "cancelled":
      return "This order is already cancelled.";
    default:
      return `This order is ${state.replace("_", " ")}: it cannot be cancelled.`;
  }
}
