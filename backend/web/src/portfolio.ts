// The connected account's holdings, as the market has indexed them.
import { accounts } from "./api";
import { count, formatTime, h } from "./dom";
import { formatUsd } from "./money";
import * as wallet from "./wallet";

export async function portfolioView(root: HTMLElement): Promise<void> {
  const who = wallet.current();
  if (!who) {
    const connect = h("button", { type: "button" }, "Connect wallet");
    connect.addEventListener("click", () => void wallet.connect().then(() => portfolioView(root)));
    root.replaceChildren(h("h1", {}, "Portfolio"), h("p", {}, "Connect your wallet to see your hours. "), connect);
    return;
  }
  const p = await accounts.positions(who.address);
  root.replaceChildren(
    h("h1", {}, "Portfolio"),
    h("p", { class: "note" }, `${who.address}: ${count(p.positions_total, "capacity", "capacities")} held, ${count(p.bookings_total, "booking")}, ${count(p.open_orders, "open order")}, ${formatUsd(p.claimable)} to claim.`),
    p.positions.length
      ? h(
          "table",
          { "data-testid": "positions" },
          h("thead", {}, h("tr", {}, ...["Capacity", "GPU class", "GPU-hours held", "Window", "Status"].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            ...p.positions.map((pos) =>
              h(
                "tr",
                { "data-capacity": pos.capacity_id },
                h("td", {}, h("a", { href: `#/capacity/${pos.capacity_id}` }, `#${pos.capacity_id}`)),
                h("td", {}, pos.gpu_class),
                h("td", { class: "num" }, pos.amount),
                h("td", {}, `${formatTime(pos.start)} to ${formatTime(pos.end)}`),
                h("td", {}, pos.status),
              ),
            ),
          ),
        )
      : h("p", {}, "No GPU-hours held."),
  );
}
