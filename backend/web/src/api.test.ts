import { describe, expect, it } from "vitest";
import { ApiError, capacityQuery, FilterError, needsAllowance, reviveBigInts } from "./api";

describe("capacityQuery", () => {
  it("leaves empty filters out", () => {
    expect(capacityQuery({}).toString()).toBe("");
    expect(capacityQuery({ gpu_model: " ", region: "", max_price: "" }).toString()).toBe("");
  });
  it("writes the form's values in the API's units", () => {
    const q = capacityQuery({
      gpu_model: "H100-SXM5-80GB",
      region: "eu-west",
      interconnect: "NVLink",
      min_gpus: "4",
      max_price: "2.20",
      min_reliability: "98.5",
      available_at: "2026-12-04T14:00",
      status: "any",
      sort: "price",
      order: "desc",
      limit: 50,
      offset: 100,
    });
    expect(Object.fromEntries(q)).toEqual({
      gpu_model: "H100-SXM5-80GB",
      region: "eu-west",
      interconnect: "NVLink",
      min_gpus: "4",
      max_price: "2200000",
      min_reliability: "9850",
      available_at: String(Date.UTC(2026, 11, 4, 14) / 1000),
      status: "any",
      sort: "price",
      order: "desc",
      limit: "50",
      offset: "100",
    });
  });
  it("names the field a bad value is in", () => {
    const field = (f: Parameters<typeof capacityQuery>[0]) => {
      try {
        capacityQuery(f);
      } catch (error) {
        expect(error).toBeInstanceOf(FilterError);
        return (error as FilterError).field;
      }
      return null;
    };
    expect(field({ max_price: "cheap" })).toBe("max_price");
    expect(field({ max_price: "2.0000001" })).toBe("max_price");
    expect(field({ min_gpus: "0" })).toBe("min_gpus");
    expect(field({ min_gpus: "1.5" })).toBe("min_gpus");
    expect(field({ min_reliability: "101" })).toBe("min_reliability");
    expect(field({ available_at: "tomorrow" })).toBe("available_at");
  });
});

describe("reviveBigInts", () => {
  it("keeps integers beyond 2^53 exact where the engine gives the source", () => {
    const source = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    expect(reviveBigInts("x", Number(source), { source })).toBe(2n ** 256n - 1n);
    expect(reviveBigInts("x", 2_200_000, { source: "2200000" })).toBe(2_200_000);
    expect(reviveBigInts("x", 1.5, { source: "1.5" })).toBe(1.5);
    expect(reviveBigInts("x", "text")).toBe("text");
  });
});


describe("needsAllowance", () => {
  it("is the API's 409 naming ERC20InsufficientAllowance, and nothing else", () => {
    expect(needsAllowance(new ApiError(409, "would_revert", "r", { error: "ERC20InsufficientAllowance" }))).toBe(true);
    expect(needsAllowance(new ApiError(409, "would_revert", "r", { error: "ERC20InsufficientBalance" }))).toBe(false);
    expect(needsAllowance(new ApiError(400, "bad", "r", { error: "ERC20InsufficientAllowance" }))).toBe(false);
    expect(needsAllowance(new Error("ERC20InsufficientAllowance"))).toBe(false);
  });
});
