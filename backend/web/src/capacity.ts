// One capacity: its terms, its order book and its node's attested record.
import { orderForm, type OrderChoice, type Place } from "./actions";
import { buyForm } from "./buy";
import * as wallet from "./wallet";
import { api, type Attestation, type BookSide, type Capacity, type NodeDetail, type OrderBook } from "./api";
import { timeChart } from "./chart";
import { attestationSeries } from "./series";
import { formatTime, h, shortAddress } from "./dom";
import { formatBps, formatUsd, perUnit } from "./money";
import * as live from "./live";

function facts(pairs: [string, string | number][]) {
  return h("dl", { class: "facts" }, ...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function side(title: string, s: BookSide, testid: string) {
  const kind: Record<string, string> = { primary_sell: "provider", sell: "resale", buy: "bid" };
  return h(
    "section",
    { class: "book-side" },
    h("h3", {}, title),
    s.orders.length
      ? h(
          "table",
          { "data-testid": testid },
          h(
            "thead",
            {},
            h("tr", {}, ...["Price /GPU-h", "GPU-hours left", "Of", "Kind", "Maker", "Expires"].map((t) => h("th", {}, t))),
          ),
          h(
            "tbody",
            {},
            ...s.orders.map((o) =>
              h(
                "tr",
                { "data-order": o.order_hash },
                h("td", { class: "num price" }, formatUsd(o.price)),
                h("td", { class: "num" }, o.remaining),
                h("td", { class: "num" }, o.amount),
                h("td", {}, kind[o.kind] ?? o.kind),
                h("td", { title: o.maker }, shortAddress(o.maker)),
                h("td", {}, formatTime(o.expiry)),
              ),
            ),
          ),
        )
      : h("p", { "data-testid": testid }, "None open."),
  );
}

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** The node's verified efficiency and uptime per attested hour, drawn once `chart` is on the page. */
function efficiencyChart(chart: HTMLElement, attested: Attestation[]) {
  if (!attested.length) {
    chart.append(h("p", {}, "No attested hours yet."));
    return;
  }
  timeChart(
    chart,
    attestationSeries(attested),
    [
      { label: "verified MFLOP per joule", format: (v) => COMPACT.format(v) },
      { label: "uptime %", format: (v) => `${v.toFixed(0)} %`, scale: "%" },
    ],
    chart.parentElement?.clientWidth ?? 900,
  );
}

function reliability(n: NodeDetail, chart: HTMLElement) {
  const r = n.reliability;
  return h(
    "section",
    { "data-testid": "reliability" },
    h("h2", {}, `Node ${n.node_id}: attested record`),
    facts([
      ["Reliability", r.epochs ? formatBps(r.reliability_bps) : "not attested yet"],
      ["Hours attested", r.epochs],
      ["Hours meeting the SLA", r.sla_share_bps === null ? "—" : `${r.sla_epochs_met} (${formatBps(r.sla_share_bps)})`],
      ["Mean load", formatBps(r.mean_load_bps)],
      ["Mean verified GFLOP/s", r.mean_gflops ?? "—"],
      ["Mean MFLOP per joule", r.mean_mflops_per_joule ?? "—"],
      ["Last attested hour", r.last_epoch === null ? "—" : formatTime(r.last_epoch * 3600)],
      ["Attestations overdue", r.stale === null ? "not watched now" : r.stale ? "yes" : "no"],
      ["Bond slashed, all windows", formatUsd(n.slashed_total)],
      ["Capacities opened", n.capacities],
    ]),
    h("h3", {}, "Verified efficiency and uptime per attested hour (the last week)"),
    chart,
  );
}

export async function capacityView(root: HTMLElement, id: number): Promise<void> {
  root.replaceChildren(h("p", { role: "status" }, "Loading…"));
  const bookRead = api.book(id); // beside the capacity: only the node's reads wait for it
  bookRead.catch(() => undefined); // a missing capacity is said below, not as an unhandled rejection
  let c: Capacity;
  try {
    c = await api.capacity(id);
  } catch (error) {
    root.replaceChildren(h("p", { class: "error", role: "status" }, `Capacity ${id}: ${(error as Error).message}`));
    return;
  }
  const chart = h("div", { class: "chart", "data-testid": "efficiency-chart" });
  const [book, node, attested] = await Promise.all([bookRead, api.node(c.node_id), api.attestations(c.node_id)]);
  const terms = (c: Capacity) =>
    facts([
      ["Window", `${formatTime(c.start)} to ${formatTime(c.end)} (${c.hours} h)`],
      ["Status", c.close_reason === "none" ? c.status : `${c.status}: ${c.close_reason}`],
      ["Best ask /GPU-h", formatUsd(c.best_ask)],
      ["Best bid /GPU-h", formatUsd(c.best_bid)],
      ["Backing per unit", `${formatUsd(c.unit_backing)}: returned to the holder for each hour not delivered`],
      ["Bond per unit", `${formatUsd(perUnit(c.bond, c.supply_cap))} (${formatUsd(c.bond)} over ${c.supply_cap} GPU-hours)`],
      ["GPU-hours", `${c.supply_cap} in all, ${c.minted} sold, ${c.units_available} unsold, ${c.activated} booked`],
      ["Interconnect", c.node.interconnect],
      ["Provider", c.provider],
    ]);
  const orders = (b: OrderBook) =>
    h("div", { class: "sides" }, side("Asks", b.asks, "asks"), side("Bids", b.bids, "bids"));
  let shownTerms = terms(c);
  let shownBook = orders(book);
  // Posting an order changes the book but no block: the book is read again once it is posted.
  const status = h("p", { role: "status", "data-testid": "action-status" });
  const place: Place = {
    slot: h("div", {}),
    status,
    redraw: async () => {
      const b = orders(await api.book(id));
      if (!shownBook.isConnected) return;
      shownBook.replaceWith(b);
      shownBook = b;
    },
  };
  const who = wallet.current()?.address.toLowerCase();
  const choices: OrderChoice[] = [
    ...(who === c.provider.toLowerCase()
      ? [{ kind: "primary_sell" as const, label: "List (as its provider)", most: c.units_available }]
      : []),
    { kind: "buy", label: "Bid for", most: null },
  ];
  root.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← Market")),
    h("h1", {}, `Capacity #${c.capacity_id}: ${c.node.gpu_count} × ${c.node.gpu_model}, ${c.node.region}`),
    shownTerms,
    h("section", { class: "book" }, h("h2", {}, "Order book"), shownBook),
    buyForm(book.asks.orders),
    c.status === "active"
      ? h(
          "section",
          { class: "post-section" },
          h("h2", {}, who === c.provider.toLowerCase() ? "List GPU-hours or bid" : "Bid for GPU-hours"),
          orderForm(c.capacity_id, choices, "Sign an order and post it to the book", "post", place),
          status,
        )
      : "",
    reliability(node, chart),
  );
  // Live: an indexed event naming this capacity redraws its terms and book in place (the buy form,
  // which may be mid-purchase, is left as it is). Reads that overtake each other: the newest wins.
  let asked = 0;
  live.listen(async (e) => {
    if (!live.capacitiesOf(e.args).includes(id) || !root.isConnected) return;
    const mine = ++asked;
    const [next, nextBook] = await Promise.all([api.capacity(id), api.book(id)]).catch(() => [null, null] as const);
    if (!next || !nextBook || mine !== asked || !shownBook.isConnected) return;
    const t = terms(next);
    const b = orders(nextBook);
    shownTerms.replaceWith(t);
    shownBook.replaceWith(b);
    shownTerms = t;
    shownBook = b;
    root.dataset.liveEvent = String(e.id); // for the end-to-end test: the event is shown
    root.dataset.liveAt = String(Date.now());
  });
  efficiencyChart(chart, attested.items);
}
