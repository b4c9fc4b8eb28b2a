import { describe, expect, it } from "vitest";
import { formatBps, formatUsd, parseUsd, perUnit, toDollars, setStablecoinDecimals } from "./money";

describe("formatUsd", () => {
  it("shows base units as dollars with cents", () => {
    expect(formatUsd(2_200_000)).toBe("$2.20");
    expect(formatUsd(2_205_000)).toBe("$2.205");
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(1)).toBe("$0.000001");
    expect(formatUsd(1_250_000_000)).toBe("$1,250.00");
    expect(formatUsd(-4_000_000)).toBe("−$4.00");
  });
  it("keeps amounts beyond 2^53 exact", () => {
    expect(formatUsd(2n ** 64n)).toBe("$18,446,744,073,709.551616");
  });
  it("says absent values plainly and refuses inexact numbers", () => {
    expect(formatUsd(null)).toBe("—");
    expect(formatUsd(undefined)).toBe("—");
    expect(() => formatUsd(1.5)).toThrow(RangeError);
    expect(() => formatUsd(2 ** 60)).toThrow(RangeError);
  });
});

describe("parseUsd", () => {
  it("reads what people type", () => {
    expect(parseUsd("2.20")).toBe(2_200_000n);
    expect(parseUsd("$2.2")).toBe(2_200_000n);
    expect(parseUsd(" 1,000 ")).toBe(1_000_000_000n);
    expect(parseUsd(".5")).toBe(500_000n);
    expect(parseUsd("0.000001")).toBe(1n);
  });
  it("refuses what is not an amount the token can hold", () => {
    for (const bad of ["", "abc", "-1", "1e3", "2.2.2", "0.0000001", "$"]) expect(parseUsd(bad)).toBeNull();
  });
  it("round-trips with formatUsd", () => {
    for (const units of [0n, 1n, 2_200_000n, 123_456_789n]) expect(parseUsd(formatUsd(units))).toBe(units);
  });
});

describe("perUnit and formatBps", () => {
  it("spreads a bond over its units, rounding down", () => {
    expect(perUnit(160_000_000, 16)).toBe(10_000_000n);
    expect(perUnit(10, 3)).toBe(3n);
    expect(perUnit(10, 0)).toBeNull();
  });
  it("shows basis points as a percentage", () => {
    expect(formatBps(9850)).toBe("98.50 %");
    expect(formatBps(10_000)).toBe("100.00 %");
    expect(formatBps(null)).toBe("—");
  });
  it("gives charts dollars as floats", () => {
    expect(toDollars(2_200_000)).toBeCloseTo(2.2);
  });
});

describe("setStablecoinDecimals", () => {
  it("reads every amount with the deployed stablecoin's decimals", () => {
    try {
      setStablecoinDecimals(18);
      expect(formatUsd(2_200_000_000_000_000_000n)).toBe("$2.20");
      expect(parseUsd("2.2")).toBe(2_200_000_000_000_000_000n);
    } finally {
      setStablecoinDecimals(6);
    }
    expect(formatUsd(2_200_000)).toBe("$2.20");
    expect(() => setStablecoinDecimals(-1)).toThrow(RangeError);
  });
});
