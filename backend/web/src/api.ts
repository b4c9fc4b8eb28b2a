// The page's client of the gpuhours HTTP API (same origin): typed reads and the market's query string.
import { parseUsd } from "./money";

export interface NodeSummary {
  node_id: number;
  owner: string;
  gpu_model: string;
  gpu_count: number;
  vram_gb: number;
  region: string;
  interconnect: string;
}

export interface Capacity {
  capacity_id: number;
  node_id: number;
  provider: string;
  start: number;
  end: number;
  hours: number;
  status: string;
  close_reason: string;
  supply_cap: number;
  minted: number;
  supply: number;
  units_available: number;
  activated: number;
  bond: bigint | number;
  unit_backing: bigint | number;
  node: NodeSummary;
  best_ask: bigint | number | null;
  best_bid: bigint | number | null;
  reliability_bps: number;
  epochs_attested: number;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface BookOrder {
  order_hash: string;
  maker: string;
  kind: string;
  price: bigint | number;
  amount: number;
  remaining: number;
  expiry: number;
}

export interface BookSide {
  levels: { price: bigint | number; remaining: number; orders: number }[];
  orders: BookOrder[];
}

export interface OrderBook {
  capacity_id: number;
  depth: number;
  as_of: number;
  asks: BookSide;
  bids: BookSide;
}

export interface Reliability {
  epochs: number;
  reliability_bps: number;
  mean_load_bps: number | null;
  gpu_seconds: number;
  mean_mflops_per_joule: number | null;
  mean_gflops: number | null;
  last_epoch: number | null;
  stale: boolean | null;
  sla_epochs_met: number;
  sla_share_bps: number | null;
}

export interface NodeDetail extends NodeSummary {
  reliability_bps: number;
  epochs_attested: number;
  reliability: Reliability;
  slashed_total: bigint | number;
  capacities: number;
}

export interface Attestation {
  epoch: number; // the unix hour attested
  uptime_bps: number;
  load_bps: number;
  gpu_seconds: number;
  mflops_per_joule: number;
  gflops: number;
  meets_sla: boolean;
}

export interface Price {
  gpu_class: string;
  last_price: bigint | number | null;
  last_time: number | null;
  vwap_24h: bigint | number | null;
  volume_24h: number;
  fills_24h: number;
  mark_price: bigint | number | null;
  mark_epoch: number | null;
}

export interface Fill {
  block_number: number;
  block_time: number | null;
  capacity_id: number;
  kind: string;
  amount: number;
  price: bigint | number;
}

/** The market's filters and sort as the page's form holds them: text as typed, dollars, percent. */
export interface MarketFilters {
  gpu_model?: string;
  region?: string;
  interconnect?: string;
  min_gpus?: string;
  max_price?: string; // dollars per GPU-hour
  min_reliability?: string; // percent
  available_at?: string; // an ISO date-time (UTC), as a datetime-local input gives it
  status?: string;
  sort?: string;
  order?: string;
  limit?: number;
  offset?: number;
}

export class FilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "FilterError";
  }
}

/**
 * The query string of `GET /capacities` for the form's values, in the API's units: prices in base
 * units, reliability in basis points, times in unix seconds. Empty fields are left out; a value the
 * API would refuse throws a FilterError naming the field.
 */
export function capacityQuery(f: MarketFilters): URLSearchParams {
  const q = new URLSearchParams();
  const text = (name: "gpu_model" | "region" | "interconnect" | "status" | "sort" | "order") => {
    const v = f[name]?.trim();
    if (v) q.set(name, v);
  };
  text("gpu_model");
  text("region");
  text("interconnect");
  const gpus = f.min_gpus?.trim();
  if (gpus) {
    if (!/^\d+$/.test(gpus) || Number(gpus) < 1) throw new FilterError("min_gpus", "GPUs: a whole number, 1 or more");
    q.set("min_gpus", gpus);
  }
  const price = f.max_price?.trim();
  if (price) {
    const units = parseUsd(price);
    if (units === null) throw new FilterError("max_price", "Max price: dollars per GPU-hour, such as 2.20");
    q.set("max_price", units.toString());
  }
  const reliability = f.min_reliability?.trim();
  if (reliability) {
    const pct = Number(reliability);
    if (!/^\d+(\.\d{0,2})?$/.test(reliability) || pct > 100)
      throw new FilterError("min_reliability", "Reliability: a percentage from 0 to 100");
    q.set("min_reliability", String(Math.round(pct * 100)));
  }
  const at = f.available_at?.trim();
  if (at) {
    const ms = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(at) ? at : `${at}Z`);
    if (Number.isNaN(ms)) throw new FilterError("available_at", "Available at: a date and time");
    q.set("available_at", String(Math.floor(ms / 1000)));
  }
  text("status");
  text("sort");
  text("order");
  if (f.limit !== undefined) q.set("limit", String(f.limit));
  if (f.offset) q.set("offset", String(f.offset));
  return q;
}

/**
 * A JSON.parse reviver that keeps integers beyond 2^53 exact, as bigint: the API's uint256 amounts
 * are JSON numbers. Reads the number's source text where the engine passes it (Chromium 114+).
 */
export function reviveBigInts(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source && /^-?\d+$/.test(context.source))
    return BigInt(context.source);
  return value;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${reason} (${code}, HTTP ${status})`);
    this.name = "ApiError";
  }
}

async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { ...init, headers: { accept: "application/json", ...init.headers } });
  const body = await response.text();
  // The third argument is where engines pass the source text; TypeScript's lib does not know it yet.
  const parsed = body ? (JSON.parse(body, reviveBigInts as (k: string, v: unknown) => unknown) as unknown) : null;
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; reason?: string; details?: Record<string, unknown> } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? "http_error", error?.reason ?? response.statusText, error?.details ?? {});
  }
  return parsed as T;
}

export function getJson<T>(path: string, params?: URLSearchParams): Promise<T> {
  return request<T>(params && [...params.keys()].length ? `${path}?${params}` : path);
}

export function postJson<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

export interface MarketInfo {
  chain_id: number;
  stablecoin: { address: string; symbol: string; decimals: number };
  fee_bps: number;
  contracts: Record<string, string>; // the deployed contracts by name: Exchange, GpuHours, Escrow…
}

export const api = {
  market: () => getJson<MarketInfo>("/market"),
  capacities: (filters: MarketFilters) => getJson<Page<Capacity>>("/capacities", capacityQuery(filters)),
  capacity: (id: number) => getJson<Capacity>(`/capacities/${id}`),
  book: (id: number) => getJson<OrderBook>(`/capacities/${id}/book`),
  node: (id: number) => getJson<NodeDetail>(`/nodes/${id}`),
  attestations: (id: number) =>
    getJson<Page<Attestation>>(`/nodes/${id}/attestations`, new URLSearchParams({ limit: "168" })),
  nodes: () => getJson<Page<NodeSummary>>("/nodes", new URLSearchParams({ limit: "100" })),
  prices: () => getJson<{ items: Price[]; as_of: number }>("/prices"),
  fills: (gpuClass: string) =>
    getJson<Page<Fill>>(`/prices/${encodeURIComponent(gpuClass)}/fills`, new URLSearchParams({ limit: "100" })),
};

let marketRead: Promise<MarketInfo> | null = null;

/** `GET /market`, read once a page (all of it is fixed on chain); read again after a failure. */
export function marketInfo(): Promise<MarketInfo> {
  if (!marketRead) {
    marketRead = api.market();
    marketRead.catch(() => (marketRead = null));
  }
  return marketRead;
}

/** An unsigned transaction as the API builds it (`POST /tx/...`): the wallet signs and sends it. */
export interface UnsignedTx {
  from: string;
  to: string;
  data: string;
  value: bigint | number;
  gas: bigint | number;
  chainId: number;
  nonce: number;
}

export interface Position {
  capacity_id: number;
  amount: number;
  node_id: number;
  gpu_class: string;
  start: number;
  end: number;
  status: string;
  close_reason: string;
}

export interface Booking {
  booking_id: bigint | number;
  capacity_id: number;
  holder: string;
  start: number;
  hours: number;
  gpus: number;
  close_reason: string;
  activated_block: number;
  settled: boolean;
}

export interface Positions {
  address: string;
  claimable: bigint | number;
  open_orders: number;
  positions: Position[];
  positions_total: number;
  bookings: Booking[];
  bookings_total: number;
}

/** A posted order as `GET /orders` answers it: the signed message (uint256 as decimal strings) and its state. */
export interface PostedOrder {
  hash: string;
  kind: string;
  order: { maker: string; capacityId: string; amount: string; price: string; expiry: string };
  state: string;
  filled: string | number;
  remaining: string | number;
  posted_at: number;
}

export const tx = {
  activate: (holder: string, capacityId: number, start: number, hours: number, gpus: number) =>
    postJson<UnsignedTx>("/tx/activate", { holder, capacity_id: capacityId, start, hours, gpus }),
  claim: (account: string) => postJson<UnsignedTx>("/tx/claim", { account }),
  cancel: (maker: string, orderHashes: string[]) =>
    postJson<UnsignedTx>("/tx/cancel", { maker, order_hashes: orderHashes }),
  /** The fill; with `permit`, paid through the taker's signed EIP-2612 permit instead of an allowance. */
  fill: (taker: string, orderHash: string, amount: number, permit?: PermitSignature) =>
    request<UnsignedTx>("/tx/fill", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ taker, order_hash: orderHash, amount, permit }, (_k, v: unknown) =>
        typeof v === "bigint" ? `@${v.toString()}@` : v,
      ).replace(/"@(\d+)@"/g, "$1"), // uint256s as exact JSON numbers
    }),
  fillBatch: (taker: string, fills: { order_hash: string; amount: number }[]) =>
    postJson<UnsignedTx>("/tx/fill-batch", { taker, fills }),
  /** The EIP-2612 permit letting the Exchange spend `value`, as typed data for the owner to sign. */
  permit: (owner: string, value: bigint, deadline: bigint) =>
    request<PermitTypedData>("/tx/permit", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"owner":${JSON.stringify(owner)},"value":${value.toString()},"deadline":${deadline.toString()}}`,
    }),
  approve: (owner: string, amount: bigint) =>
    // A uint256 past 2^53 as a JSON number, exact: written out by hand, not through a double.
    request<UnsignedTx>("/tx/approve", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"owner":${JSON.stringify(owner)},"spender":"exchange","amount":${amount.toString()}}`,
    }),
};

/** A permit the owner signed, as `POST /tx/fill` takes it. */
export interface PermitSignature {
  value: bigint;
  deadline: bigint;
  v: number;
  r: string;
  s: string;
}

/** EIP-712 typed data as the API writes it for eth_signTypedData_v4. */
export interface PermitTypedData {
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  message: Record<string, unknown>;
}

/** Whether an API error says the buyer has not let the exchange spend enough of the stablecoin. */
export function needsAllowance(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409 && error.details.error === "ERC20InsufficientAllowance";
}

export const orders = {
  /** The maker's orders still on the book (open or partly filled), newest first. */
  open: async (maker: string) => {
    const page = await getJson<Page<PostedOrder>>("/orders", new URLSearchParams({ maker, limit: "100" }));
    return page.items.filter((o) => o.state === "open" || o.state === "partially_filled");
  },
  get: (hash: string) => getJson<PostedOrder>(`/orders/${hash}`),
  /** Posts a signed order (`body` already JSON, its uint256s exact), with the sign-in's bearer token when there is one. */
  post: (body: string, authorization: Record<string, string>) =>
    request<PostedOrder>("/orders", { method: "POST", headers: { "content-type": "application/json", ...authorization }, body }),
};

export const accounts = {
  positions: (address: string) => getJson<Positions>(`/accounts/${address}/positions`),
  indexed: async () => (await getJson<{ checks: { indexed?: number | null } }>("/ready")).checks.indexed ?? null,
};

/** A lending pool as `GET /pools` answers it (amounts in stablecoin base units; rates as fractions). */
export interface Pool {
  gpu_class: string;
  address: string;
  terms: { lltv: bigint | number; maturity_buffer_hours: number; mark_max_age: number };
  total_supplied: bigint | number;
  total_borrowed: bigint | number;
  cash: bigint | number;
  utilization: number;
  borrow_apy: number;
  supply_apy: number;
  mark: bigint | number;
  mark_epoch: number;
  borrowers: number;
}

/** A borrower's position in a pool (`GET /pools/{address}/positions/{borrower}`). */
export interface PoolPosition {
  debt: bigint | number;
  collateral: { capacity_id: number; units: number; backing: bigint | number; value: bigint | number }[];
  collateral_value: bigint | number;
  max_debt: bigint | number;
  health_factor: number | null;
  liquidation_price: bigint | number | null;
  healthy: boolean;
}

/** What `POST /tx/pools/...` answers: the transactions to send in order, and `then` the step to ask for again. */
export interface PoolTxs {
  transactions: UnsignedTx[];
  then: string | null;
}

/** A JSON body whose bigints are written as exact JSON numbers (uint256s). */
function exactJson(body: Record<string, unknown>): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? `@${v.toString()}@` : v)).replace(/"@(\d+)@"/g, "$1");
}

export const pools = {
  list: async () => (await getJson<Page<Pool>>("/pools")).items,
  /** The borrower's position, or null when it has none in the pool. */
  position: (pool: string, borrower: string) =>
    getJson<PoolPosition>(`/pools/${pool}/positions/${borrower}`).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404 && e.code === "not_found") return null;
      throw e;
    }),
  tx: (pool: string, step: "supply" | "withdraw" | "pledge" | "borrow" | "repay", body: Record<string, unknown>) =>
    request<PoolTxs>(`/tx/pools/${pool}/${step}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: exactJson(body),
    }),
};
