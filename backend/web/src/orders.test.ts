import { hashTypedData } from "viem";
import { describe, expect, it } from "vitest";
import { checkOrder, newOrder, orderBody, orderTypedData, randomSalt, splitSignature, whyNotCancellable } from "./orders";

const MAKER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";
const EXCHANGE = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

describe("resale orders", () => {
  it("hash as the API and the Exchange hash them", () => {
    // The digest from backend.chain.orders.order_hash for the same order (equal to Exchange.hashOrder).
    const m = newOrder("sell", MAKER, 1, { amount: 8n, price: 3_000_000n, expiresIn: 0 }, 1_800_000_000n, 0n, 123456789012345678901234567890n);
    expect(hashTypedData(orderTypedData(m, 31337, EXCHANGE))).toBe(
      "0x9294f514b56ecc527beb8f4362ef23c9e5da4b9d688f9de3a09eefb9469c631b",
    );
  });

  it("expire after the chain's clock, not the wall's", () => {
    const m = newOrder("sell", MAKER, 3, { amount: 2n, price: 1n, expiresIn: 7200 }, 2_000_000_000n, 5n, 1n);
    expect(m.expiry).toBe(2_000_007_200n);
    expect(m.kind).toBe(1);
    expect(m.counter).toBe(5n);
  });

  it("are posted with every uint256 exact, as decimal strings", () => {
    const salt = 2n ** 255n + 1n;
    const m = newOrder("sell", MAKER, 1, { amount: 8n, price: 3_000_000n, expiresIn: 60 }, 100n, 0n, salt);
    const body = JSON.parse(orderBody(m, "0xabcd", 31337, EXCHANGE)) as Record<string, unknown>;
    expect(body).toEqual({
      maker: MAKER,
      kind: 1,
      capacityId: "1",
      amount: "8",
      price: "3000000",
      expiry: "160",
      salt: salt.toString(),
      counter: "0",
      signature: "0xabcd",
      chainId: 31337,
      verifyingContract: EXCHANGE,
    });
  });

  it("check the form against the hours held", () => {
    const form = { amount: "8", price: "3.00", expiresInHours: "24" };
    expect(checkOrder(form, 10)).toEqual({ amount: 8n, price: 3_000_000n, expiresIn: 86_400 });
    expect(checkOrder({ ...form, amount: "11" }, 10)).toBe("GPU-hours: a whole number from 1 to 10.");
    expect(checkOrder({ ...form, amount: "1.5" }, 10)).toBe("GPU-hours: a whole number from 1 to 10.");
    expect(checkOrder(form, 0)).toBe("You have none of these GPU-hours to sell.");
    expect(checkOrder({ ...form, price: "0" }, 10)).toMatch(/^Price:/);
    expect(checkOrder({ ...form, price: "cheap" }, 10)).toMatch(/^Price:/);
    expect(checkOrder({ ...form, expiresInHours: "0" }, 10)).toMatch(/^Expires in:/);
  });

  it("bid for any number of GPU-hours, and list a provider's as primary sells", () => {
    const form = { amount: "500", price: "1.95", expiresInHours: "2" };
    expect(checkOrder(form, null)).toEqual({ amount: 500n, price: 1_950_000n, expiresIn: 7200 });
    expect(checkOrder({ ...form, amount: "0" }, null)).toBe("GPU-hours: a whole number, 1 or more.");
    const terms = { amount: 2n, price: 1n, expiresIn: 60 };
    expect(newOrder("buy", MAKER, 1, terms, 0n, 0n, 0n).kind).toBe(2);
    expect(newOrder("primary_sell", MAKER, 1, terms, 0n, 0n, 0n).kind).toBe(0);
  });

  it("salt with 256 random bits", () => {
    expect(randomSalt((b) => b.fill(0xff))).toBe(2n ** 256n - 1n);
    expect(randomSalt((b) => b.fill(0))).toBe(0n);
    expect(randomSalt()).not.toBe(randomSalt());
  });

  it("say plainly why a finished order cannot be cancelled", () => {
    expect(whyNotCancellable("open")).toBeNull();
    expect(whyNotCancellable("partially_filled")).toBeNull();
    expect(whyNotCancellable("filled")).toMatch(/already filled/);
    expect(whyNotCancellable("expired")).toMatch(/expired/);
    expect(whyNotCancellable("cancelled")).toMatch(/already cancelled/);
  });
});

describe("a permit's signature", () => {
  const r = "11".repeat(32);
  const s = "22".repeat(32);
  it("splits into v, r and s", () => {
    expect(splitSignature(`0x${r}${s}1b`)).toEqual({ v: 27, r: `0x${r}`, s: `0x${s}` });
    expect(splitSignature(`0x${r}${s}1c`).v).toBe(28);
    expect(splitSignature(`0x${r}${s}01`).v).toBe(28); // a wallet that writes the y parity
  });
  it("refuses anything but 65 bytes", () => {
    expect(() => splitSignature(`0x${r}${s}`)).toThrow();
  });
});
