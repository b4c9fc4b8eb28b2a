// Lending figures as the page says them: rates, utilization, health factor, liquidation price, and
// the amounts a borrower or lender types, checked before anything is built. Pure.
import { formatUsd, parseUsd, type Amount } from "./money";

/** A rate or share as a percentage with two decimals: 0.0523 → "5.23 %"; "—" when unknown. */
export function formatPercent(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  return `${(x * 100).toFixed(2)} %`;
}

/** A health factor as a person reads it: "no debt" without one, two decimals, "unhealthy" below 1. */
export function formatHealth(hf: number | null | undefined): string {
  if (hf === null || hf === undefined) return "no debt";
  const text = hf >= 1000 ? "> 999" : hf.toFixed(2);
  return hf < 1 ? `${text} (unhealthy: it can be liquidated)` : text;
}

/** The liquidation price per GPU-hour, or why there is none to say. */
export function formatLiquidationPrice(price: Amount | null | undefined, debt: Amount): string {
  if (BigInt(debt) === 0n) return "none: nothing is owed";
  if (price === null || price === undefined) return "not known: the API gives none for this position";
  return `${formatUsd(price)} per GPU-hour`;
}

/** The health factor after borrowing `more`: max debt / (debt + more); null when nothing would be owed. */
export function healthAfter(maxDebt: Amount, debt: Amount, more: Amount): number | null {
  const owed = BigInt(debt) + BigInt(more);
  if (owed <= 0n) return null;
  return Number((BigInt(maxDebt) * 10_000n) / owed) / 10_000;
}

/** A dollar amount typed for `what`, at most `most` (base units) when given; a sentence when it is not one. */
export function checkAmount(text: string, what: string, most?: { units: Amount; why: string }): bigint | string {
  const value = parseUsd(text);
  if (value === null) return `${what}: a dollar amount, such as 100 or 12.50.`;
  if (value <= 0n) return `${what}: more than $0.00.`;
  if (most && value > BigInt(most.units)) return `${what}: at most ${formatUsd(most.units)}, ${most.why}.`;
  return value;
}

/** A whole number of GPU-hours typed, from 1 to `held`; a sentence when it is not one. */
export function checkUnits(text: string, held: number): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1) return "GPU-hours to pledge: a whole number, at least 1.";
  const n = Number(t);
  if (n > held) return `You hold ${held} of these GPU-hours: pledge at most ${held}.`;
  return n;
}
