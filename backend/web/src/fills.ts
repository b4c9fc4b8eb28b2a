// A purchase across a capacity's asks, cheapest first: which orders to take and how much of each, for
// one `Exchange.fillBatch`. Pure.
import type { BookOrder } from "./api";

export interface PlannedFill {
  order: BookOrder;
  amount: number;
}

/** All the GPU-hours the asks have left. */
export function hoursOnSale(asks: BookOrder[]): number {
  return asks.reduce((total, o) => total + o.remaining, 0);
}

/** `hours` taken from the cheapest asks first (the earliest posted first at one price, as the book lists them). */
export function planFills(asks: BookOrder[], hours: number): PlannedFill[] {
  const byPrice = [...asks].sort((a, b) => (BigInt(a.price) < BigInt(b.price) ? -1 : BigInt(a.price) > BigInt(b.price) ? 1 : 0));
  const out: PlannedFill[] = [];
  let left = hours;
  for (const order of byPrice) {
    if (left <= 0) break;
    const amount = Math.min(left, order.remaining);
    if (amount > 0) out.push({ order, amount });
    left -= amount;
  }
  if (left > 0) throw new RangeError(`only ${hours - left} GPU-hours are for sale`);
  return out;
}

/** What the plan costs, in base units. */
export function planCost(plan: PlannedFill[]): bigint {
  return plan.reduce((total, f) => total + BigInt(f.order.price) * BigInt(f.amount), 0n);
}
