// Money as the API states it: integers in the stablecoin's base units (USDC, 6 decimals: 2200000 is
// $2.20), per GPU-hour for prices. Kept as bigint from the JSON on, so no amount is ever rounded
// through a float.
import { formatUnits, parseUnits } from "viem";

/** The stablecoin's decimals as the API documents them (USDC); `GET /market` states the deployed one's. */
export const STABLECOIN_DECIMALS = 6;
let decimalsInUse = STABLECOIN_DECIMALS;

/** The deployed stablecoin's decimals, once the API has said them; every amount is read with them. */
export function setStablecoinDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 36) throw new RangeError(`decimals: ${decimals}`);
  decimalsInUse = decimals;
}

export type Amount = bigint | number;

function toBigInt(value: Amount): bigint {
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an exact integer amount: ${value}`);
  return BigInt(value);
}

function groupThousands(whole: string): string {
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * Base units as dollars: "$2.20", "$1,250.00", "$0.000001"; always two decimals, more only where
 * the amount has them; "—" for an absent value.
 */
export function formatUsd(value: Amount | null | undefined, decimals = decimalsInUse): string {
  if (value === null || value === undefined) return "—";
  const units = toBigInt(value);
  const negative = units < 0n;
  const [whole, fraction = ""] = formatUnits(negative ? -units : units, decimals).split(".");
  const cents = fraction.padEnd(2, "0");
  return `${negative ? "−" : ""}$${groupThousands(whole)}.${cents}`;
}

/** A dollar amount typed by a person ("2.2", "$2.20", "1,000") in base units; null when it is not one. */
export function parseUsd(text: string, decimals = decimalsInUse): bigint | null {
  const cleaned = text.trim().replace(/^\$/, "").replaceAll(",", "");
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(cleaned)) return null;
  const fraction = cleaned.split(".")[1] ?? "";
  if (fraction.length > decimals) return null; // finer than the token can hold
  return parseUnits(cleaned, decimals);
}

/** `total` spread over `units`, rounded down (the bond behind each GPU-hour); null with no units. */
export function perUnit(total: Amount, units: Amount): bigint | null {
  const n = toBigInt(units);
  return n > 0n ? toBigInt(total) / n : null;
}

/** Basis points as a percentage: 9850 → "98.50 %". */
export function formatBps(bps: number | null | undefined): string {
  if (bps === null || bps === undefined) return "—";
  return `${(bps / 100).toFixed(2)} %`;
}

/** Base units as a float of dollars, for charts only (never for an amount shown or sent). */
export function toDollars(value: Amount, decimals = decimalsInUse): number {
  return Number(formatUnits(toBigInt(value), decimals));
}
