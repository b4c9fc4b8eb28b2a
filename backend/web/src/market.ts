// The market: capacities with the API's filters and sorts, prices in dollars per GPU-hour.
import { api, capacityQuery, FilterError, type Capacity, type MarketFilters, type NodeSummary, type Page } from "./api";
import { count, formatTime, h } from "./dom";
import { formatBps, formatUsd, perUnit } from "./money";
import * as live from "./live";

const PAGE = 50;
const FIELDS = [
  "gpu_model",
  "region",
  "interconnect",
  "min_gpus",
  "max_price",
  "min_reliability",
  "available_at",
  "status",
  "sort",
  "order",
] as const;

function filtersFrom(params: URLSearchParams): MarketFilters {
  const f: MarketFilters = { limit: PAGE, offset: Number(params.get("offset") ?? 0) || 0 };
  for (const name of FIELDS) {
    const v = params.get(name);
    if (v) f[name] = v;
  }
  return f;
}

function select(name: string, label: string, value: string | undefined, options: [string, string][]) {
  return h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      ...options.map(([v, text]) => h("option", { value: v, selected: v === (value ?? options[0][0]) }, text)),
    ),
  );
}

function input(name: string, label: string, value: string | undefined, attrs: Record<string, string> = {}) {
  return h("label", {}, label, h("input", { name, value: value ?? "", ...attrs }));
}

function filterForm(f: MarketFilters, known: { models: string[]; regions: string[]; interconnects: string[] }) {
  const lists = [
    h("datalist", { id: "models" }, ...known.models.map((m) => h("option", { value: m }))),
    h("datalist", { id: "regions" }, ...known.regions.map((m) => h("option", { value: m }))),
    h("datalist", { id: "interconnects" }, ...known.interconnects.map((m) => h("option", { value: m }))),
  ];
  const form = h(
    "form",
    { class: "filters", "data-testid": "filters" },
    ...lists,
    input("gpu_model", "GPU model", f.gpu_model, { list: "models" }),
    input("region", "Region", f.region, { list: "regions" }),
    input("interconnect", "Interconnect", f.interconnect, { list: "interconnects" }),
    input("min_gpus", "GPUs at least", f.min_gpus, { inputmode: "numeric", size: "4" }),
    input("max_price", "Ask at most ($/GPU-h)", f.max_price, { inputmode: "decimal", size: "6" }),
    input("min_reliability", "Reliability at least (%)", f.min_reliability, { inputmode: "decimal", size: "5" }),
    input("available_at", "Available at (UTC)", f.available_at, { type: "datetime-local" }),
    select("status", "Status", f.status, [
      ["active", "active"],
      ["cancelled", "cancelled"],
      ["closed", "closed"],
      ["any", "any"],
    ]),
    select("sort", "Sort by", f.sort, [
      ["start", "window start"],
      ["price", "best ask"],
      ["reliability", "reliability"],
      ["gpus", "GPUs"],
    ]),
    select("order", "Order", f.order, [
      ["asc", "ascending"],
      ["desc", "descending"],
    ]),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (typeof value === "string" && value.trim()) params.set(name, value.trim());
    location.hash = `#/?${params}`;
  });
  return form;
}

function row(c: Capacity) {
  const bondPerUnit = perUnit(c.bond, c.supply_cap);
  return h(
    "tr",
    { "data-capacity": c.capacity_id },
    h("td", {}, h("a", { href: `#/capacity/${c.capacity_id}` }, `#${c.capacity_id}`)),
    h("td", {}, c.node.gpu_model),
    h("td", { class: "num" }, `${c.node.gpu_count} × ${c.node.vram_gb} GB`),
    h("td", {}, c.node.region),
    h("td", {}, c.node.interconnect),
    h("td", {}, `${formatTime(c.start)} · ${c.hours} h`),
    h("td", { class: "num price", "data-testid": "best-ask" }, formatUsd(c.best_ask)),
    h("td", { class: "num" }, formatUsd(c.best_bid)),
    h("td", { class: "num" }, formatUsd(c.unit_backing)),
    h("td", { class: "num" }, formatUsd(bondPerUnit)),
    h("td", { class: "num" }, c.units_available),
    h("td", { class: "num" }, c.epochs_attested ? formatBps(c.reliability_bps) : "not attested"),
    h("td", {}, c.status),
  );
}

function table(items: Capacity[]) {
  return h(
    "table",
    { class: "capacities", "data-testid": "capacities" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...[
          "Capacity",
          "GPU model",
          "GPUs",
          "Region",
          "Interconnect",
          "Window",
          "Best ask /GPU-h",
          "Best bid /GPU-h",
          "Backing /unit",
          "Bond /unit",
          "GPU-h unsold",
          "Reliability",
          "Status",
        ].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h("tbody", {}, ...items.map(row)),
  );
}

export async function marketView(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const f = filtersFrom(params);
  let query: Promise<Page<Capacity>>;
  try {
    capacityQuery(f); // a bad filter is said before anything is asked
    query = api.capacities(f);
  } catch (error) {
    query = Promise.reject(error);
  }
  query.catch(() => undefined); // read below, after the nodes: not an unhandled rejection meanwhile
  const nodes = await api.nodes().catch(() => ({ items: [] as NodeSummary[] }));
  const distinct = (pick: (n: NodeSummary) => string) => [...new Set(nodes.items.map(pick))].sort();
  const known = {
    models: distinct((n) => n.gpu_model),
    regions: distinct((n) => n.region),
    interconnects: distinct((n) => n.interconnect),
  };
  const status = h("p", { class: "status", role: "status", "data-testid": "market-status" }, "Loading…");
  root.replaceChildren(
    h("h1", {}, "Market"),
    h(
      "p",
      { class: "note" },
      "Each unit is one GPU-hour. Backing is the stablecoin escrowed behind every unit: what a holder gets back for an hour not delivered. Bond per unit is the provider's bond over the window's GPU-hours, slashed to holders on failure.",
    ),
    filterForm(f, known),
    status,
  );
  let page: Page<Capacity>;
  try {
    page = await query;
  } catch (error) {
    status.textContent = error instanceof FilterError ? error.message : `The market could not be read: ${(error as Error).message}`;
    status.classList.add("error");
    return;
  }
  const first = page.total ? page.offset + 1 : 0;
  const last = page.offset + page.items.length;
  status.textContent = `${count(page.total, "capacity", "capacities")}${page.total > page.items.length ? `, ${first}–${last} shown` : ""}`;
  const move = (offset: number) => {
    const next = new URLSearchParams(params);
    next.set("offset", String(Math.max(0, offset)));
    return `#/?${next}`;
  };
  const shown = page.items.length ? table(page.items) : h("p", {}, "No capacity matches these filters.");
  // Live: a row whose capacity an indexed event names is read again and redrawn in place (a new
  // capacity waits for the next load: where it sorts depends on the filters).
  live.listen(async (e) => {
    for (const id of live.capacitiesOf(e.args)) {
      const old = shown.querySelector(`tr[data-capacity="${id}"]`);
      if (!old) continue;
      const fresh = await api.capacity(id).catch(() => null);
      const now = shown.querySelector(`tr[data-capacity="${id}"]`);
      if (!fresh || !now) continue;
      now.replaceWith(row(fresh));
      root.dataset.liveEvent = String(e.id);
      root.dataset.liveAt = String(Date.now());
    }
  });
  root.append(
    shown,
    h(
      "nav",
      { class: "pages" },
      page.offset > 0 && h("a", { href: move(page.offset - PAGE) }, "← previous"),
      last < page.total && h("a", { href: move(page.offset + PAGE) }, "next →"),
    ),
  );
}
