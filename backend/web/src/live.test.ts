import { describe, expect, it } from "vitest";
import { capacitiesOf, parseEvent } from "./live";

describe("live events", () => {
  it("reads the stream's JSON", () => {
    const e = parseEvent(
      "Exchange.OrderFilled",
      JSON.stringify({ id: 7, contract: "Exchange", event: "OrderFilled", block: 42, tx: "0xab", args: { capacityId: 3, amount: 2 } }),
    );
    expect(e).toEqual({ id: 7, name: "Exchange.OrderFilled", block: 42, tx: "0xab", args: { capacityId: 3, amount: 2 } });
    expect(parseEvent("x", "not json")).toBeNull();
    expect(parseEvent("x", "{}")).toBeNull();
  });

  it("finds the capacities an event names", () => {
    expect(capacitiesOf({ capacityId: 3 })).toEqual([3]);
    expect(capacitiesOf({ id: 5 })).toEqual([5]);
    expect(capacitiesOf({ ids: [1, 2, 1] })).toEqual([1, 2]);
    expect(capacitiesOf({ capacityId: "12" })).toEqual([12]);
    expect(capacitiesOf({ orderHash: "0xab" })).toEqual([]);
  });
});
