// Prices per GPU class: the index from /prices and each class's fills over time (uPlot).
import { api, type Fill } from "./api";
import { timeChart } from "./chart";
import { formatTime, h } from "./dom";
import { formatUsd } from "./money";
import { alignFills } from "./series";

export async function pricesView(root: HTMLElement): Promise<void> {
  root.replaceChildren(h("h1", {}, "Prices"), h("p", { role: "status" }, "Loading…"));
  const prices = await api.prices();
  const fills = new Map<string, Fill[]>();
  await Promise.all(prices.items.map(async (p) => fills.set(p.gpu_class, (await api.fills(p.gpu_class)).items)));
  const classes = prices.items.map((p) => p.gpu_class);
  const ordered = new Map(classes.map((c) => [c, fills.get(c) ?? []]));
  const chart = h("div", { class: "chart", "data-testid": "price-chart" });
  root.replaceChildren(
    h("h1", {}, "Prices"),
    h("p", { class: "note" }, `Dollars per GPU-hour. As of ${formatTime(prices.as_of)}.`),
    h(
      "table",
      { "data-testid": "price-index" },
      h(
        "thead",
        {},
        h("tr", {}, ...["GPU class", "Last", "Last fill", "24 h VWAP", "24 h volume (GPU-h)", "Fills 24 h", "Oracle mark"].map((t) => h("th", {}, t))),
      ),
      h(
        "tbody",
        {},
        ...prices.items.map((p) =>
          h(
            "tr",
            {},
            h("td", {}, p.gpu_class),
            h("td", { class: "num" }, formatUsd(p.last_price)),
            h("td", {}, formatTime(p.last_time)),
            h("td", { class: "num" }, formatUsd(p.vwap_24h)),
            h("td", { class: "num" }, p.volume_24h),
            h("td", { class: "num" }, p.fills_24h),
            h("td", { class: "num" }, formatUsd(p.mark_price)),
          ),
        ),
      ),
    ),
    h("h2", {}, "Fills over time"),
    chart,
  );
  const data = alignFills(ordered);
  if (!data[0].length) {
    chart.append(h("p", {}, "No fills yet."));
    return;
  }
  const dollars = (v: number) => `$${v.toFixed(2)}`;
  timeChart(
    chart,
    data,
    classes.map((label) => ({ label, format: dollars })),
    root.clientWidth,
  );
}
