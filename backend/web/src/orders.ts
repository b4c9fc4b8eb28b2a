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

/** An order as the form holds it: text as typed. */
export interface OrderForm {
  amount: string; // GPU-hours
  price: string; // dollars per GPU-hour
  expiresInHours: string;
}

export interface OrderTerms {
  amount: bigint;
  price: bigint;
  expiresIn: number; // seconds
}

/**
 * The form's values checked; a sentence naming the field when wrong. `most` is the most GPU-hours the
 * maker may offer (those held for a resale, those unsold for a provider); null for a bid.
 */
export function checkOrder(form: OrderForm, most: number | null): OrderTerms | string {
  const amount = form.amount.trim();
  if (most !== null && most < 1) return "You have none of these GPU-hours to sell.";
  if (!/^\d+$/.test(amount) || Number(amount) < 1 || (most !== null && Number(amount) > most))
    return most === null ? "GPU-hours: a whole number, 1 or more." : `GPU-hours: a whole number from 1 to ${most}.`;
  const price = parseUsd(form.price);
  if (price === null || price <= 0n) return "Price: dollars per GPU-hour above zero, such as 2.40.";
  const hours = form.expiresInHours.trim();
  if (!/^\d+$/.test(hours) || Number(hours) < 1 || Number(hours) > 24 * 365)
    return "Expires in: a whole number of hours, from 1 to 8760.";
  return { amount: BigInt(amount), price, expiresIn: Number(hours) * 3600 };
}

export type OrderKindName = keyof typeof ORDER_KIND;

/** An order of `kind` for `maker`, expiring `terms.expiresIn` after the chain's clock `now`. */
export function newOrder(
  kind: OrderKindName,
  maker: string,
  capacityId: number,
  terms: OrderTerms,
  now: bigint,
  counter: bigint,
  salt: bigint,
): OrderMessage {
  return {
    maker: maker as `0x${string}`,
    kind: ORDER_KIND[kind],
    capacityId: BigInt(capacityId),
    amount: terms.amount,
    price: terms.price,
    expiry: now + BigInt(terms.expiresIn),
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

/** A 65-byte ECDSA signature as the (v, r, s) a permit is passed as; v is 27 or 28. */
export function splitSignature(signature: string): { v: number; r: string; s: string } {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Error("not a 65-byte signature");
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return { r: `0x${signature.slice(2, 66)}`, s: `0x${signature.slice(66, 130)}`, v: v < 27 ? v + 27 : v };
}
