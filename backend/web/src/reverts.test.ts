import { describe, expect, it } from "vitest";
import { plainRevert } from "./reverts";

describe("a contract's error", () => {
  it("is said plainly where the page knows it", () => {
    expect(plainRevert("Overbooked")).toMatch(/too few GPUs free/);
    expect(plainRevert("ERC1155InsufficientBalance")).toBe("You hold fewer of these GPU-hours than that.");
  });
  it("is left to the API's reason otherwise", () => {
    expect(plainRevert("SomethingNew")).toBeNull();
    expect(plainRevert(undefined)).toBeNull();
    expect(plainRevert("toString")).toBeNull();
  });
});
