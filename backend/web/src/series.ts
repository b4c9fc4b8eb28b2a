// Price history per GPU class, aligned on one time axis as uPlot wants it.
import type { Attestation, Fill } from "./api";
import { toDollars } from "./money";

/** [times, one price series per class] with null where a class did not trade at that time. */
export type Aligned = [number[], ...(number | null)[][]];

/**
 * Fills of each class as price-over-time series on a shared, ascending, de-duplicated time axis
 * (unix seconds); several fills of a class at one time keep the last one (the API lists fills newest
 * first). Fills without a block time are left out.
 */
export function alignFills(byClass: Map<string, Fill[]>): Aligned {
  const perClass = [...byClass.values()].map((fills) => {
    const at = new Map<number, number>();
    for (const f of [...fills].reverse()) if (f.block_time !== null) at.set(f.block_time, toDollars(f.price));
    return at;
  });
  const times = [...new Set(perClass.flatMap((at) => [...at.keys()]))].sort((a, b) => a - b);
  return [times, ...perClass.map((at) => times.map((t) => at.get(t) ?? null))];
}

/** The time axis's range: the data's, widened to an hour around it when the fills fall within one. */
export function timeRange(min: number, max: number): [number, number] {
  const HOUR = 3600;
  if (max - min >= HOUR) return [min, max];
  const mid = Math.round((min + max) / 2);
  return [mid - HOUR / 2, mid + HOUR / 2];
}

/** A node's attested hours, oldest first: [hour start, MFLOP per joule, uptime %]. */
export function attestationSeries(items: Attestation[]): Aligned {
  const hours = [...items].sort((a, b) => a.epoch - b.epoch);
  return [hours.map((a) => a.epoch * 3600), hours.map((a) => a.mflops_per_joule), hours.map((a) => a.uptime_bps / 100)];
}
