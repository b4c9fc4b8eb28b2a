import { describe, expect, it } from "vitest";
import { checkAmount, checkUnits, formatHealth, formatLiquidationPrice, formatPercent, healthAfter } from "./lending";

describe("lending figures", () => {
  it("writes rates as percentages", () => {
    expect(formatPercent(0.0523)).toBe("5.23 %");
    expect(formatPercent(0)).toBe("0.00 %");
    expect(formatPercent(null)).toBe("—");
    expect(formatPercent(Number.NaN)).toBe("—");
  });
  it("says the health factor plainly", () => {
    expect(formatHealth(null)).toBe("no debt");
    expect(formatHealth(3)).toBe("3.00");
    expect(formatHealth(0.8)).toBe("0.80 (unhealthy: it can be liquidated)");
    expect(formatHealth(5000)).toBe("> 999");
  });
  it("says the liquidation price or why there is none", () => {
    expect(formatLiquidationPrice(666_667, 16_000_000)).toBe("$0.666667 per GPU-hour");
    expect(formatLiquidationPrice(null, 0)).toBe("none: nothing is owed");
    expect(formatLiquidationPrice(null, 5)).toMatch(/^not known/);
  });
  it("foresees the health factor after a borrow", () => {
    expect(healthAfter(48_000_000, 16_000_000, 8_000_000)).toBe(2);
    expect(healthAfter(48_000_000, 0, 64_000_000)).toBe(0.75);
    expect(healthAfter(48_000_000, 0, 0)).toBeNull();
  });
  it("checks amounts typed", () => {
    expect(checkAmount("12.50", "Supply")).toBe(12_500_000n);
    expect(checkAmount("lots", "Supply")).toBe("Supply: a dollar amount, such as 100 or 12.50.");
    expect(checkAmount("0", "Supply")).toBe("Supply: more than $0.00.");
    expect(checkAmount("20", "Withdraw", { units: 10_000_000, why: "what your shares are worth" })).toBe(
      "Withdraw: at most $10.00, what your shares are worth.",
    );
    expect(checkUnits("5", 10)).toBe(5);
    expect(checkUnits("11", 10)).toBe("You hold 10 of these GPU-hours: pledge at most 10.");
    expect(checkUnits("1.5", 10)).toMatch(/whole number/);
  });
});
