import { describe, expect, it } from "vitest";
import type { BookOrder } from "./api";
import { hoursOnSale, planCost, planFills } from "./fills";

const ask = (hash: string, price: number, remaining: number): BookOrder => ({
  order_hash: hash,
  maker: "0x0",
  kind: "sell",
  price,
  amount: remaining,
  remaining,
  expiry: 0,
});

describe("a purchase across asks", () => {
  const asks = [ask("b", 2_300_000, 8), ask("a", 2_200_000, 50), ask("c", 2_500_000, 16), ask("a2", 2_200_000, 5)];

  it("takes the cheapest first, in the book's order at one price", () => {
    const plan = planFills(asks, 57);
    expect(plan.map((f) => [f.order.order_hash, f.amount])).toEqual([
      ["a", 50],
      ["a2", 5],
      ["b", 2],
    ]);
    expect(planCost(plan)).toBe(55n * 2_200_000n + 2n * 2_300_000n);
  });

  it("takes one order when it is enough", () => {
    expect(planFills(asks, 3).map((f) => [f.order.order_hash, f.amount])).toEqual([["a", 3]]);
  });

  it("refuses more than is for sale", () => {
    expect(hoursOnSale(asks)).toBe(79);
    expect(() => planFills(asks, 80)).toThrow("only 79 GPU-hours are for sale");
  });
});
