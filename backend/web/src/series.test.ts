import { describe, expect, it } from "vitest";
import type { Attestation, Fill } from "./api";
import { alignFills, attestationSeries, timeRange } from "./series";

describe("alignFills", () => {
  const fill = (time: number | null, price: number): Fill => ({
    block_number: 1,
    block_time: time,
    capacity_id: 1,
    kind: "sell",
    amount: 1,
    price,
  });
  it("puts every class on one ascending time axis, null where it did not trade", () => {
    const byClass = new Map([
      ["H100", [fill(300, 2_600_000), fill(100, 2_200_000)]], // newest first, as the API lists them
      ["A100", [fill(200, 1_400_000), fill(null, 9_000_000)]],
    ]);
    expect(alignFills(byClass)).toEqual([
      [100, 200, 300],
      [2.2, null, 2.6],
      [null, 1.4, null],
    ]);
  });
  it("keeps the latest fill of a class at one time", () => {
    const byClass = new Map([["H100", [fill(100, 2_500_000), fill(100, 2_200_000)]]]);
    expect(alignFills(byClass)).toEqual([[100], [2.5]]);
  });
});

describe("timeRange", () => {
  it("keeps a range of an hour or more and widens a shorter one around its middle", () => {
    expect(timeRange(0, 7200)).toEqual([0, 7200]);
    expect(timeRange(5000, 5000)).toEqual([3200, 6800]);
    expect(timeRange(5000, 5600)).toEqual([3500, 7100]);
  });
});

describe("attestationSeries", () => {
  const hour = (epoch: number, mflops_per_joule: number, uptime_bps: number): Attestation => ({
    epoch,
    uptime_bps,
    load_bps: 0,
    gpu_seconds: 0,
    mflops_per_joule,
    gflops: 0,
    meets_sla: true,
  });
  it("puts the attested hours oldest first, efficiency and uptime in percent", () => {
    expect(attestationSeries([hour(11, 420, 10_000), hour(10, 400, 9_500)])).toEqual([
      [36_000, 39_600],
      [400, 420],
      [95, 100],
    ]);
  });
});
