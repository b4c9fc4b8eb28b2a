// The connected account's holdings, bookings and open orders, as the market has indexed them, with
// what can be done with each: book or resell held hours, cancel an open order.
import { accounts, orders, type Booking } from "./api";
import { activateForm, cancelOrder, claim, resellForm, type Place } from "./actions";
import { count, formatTime, h, shortAddress } from "./dom";
import { formatUsd } from "./money";
import { problem } from "./txflow";
import * as wallet from "./wallet";

function table(testid: string, headers: string[], rows: HTMLTableRowElement[]) {
  return h(
    "table",
    { "data-testid": testid },
    h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, ...rows),
  );
}

function bookingState(b: Booking): string {
  if (b.settled) return "settled";
  return b.close_reason === "none" ? "open" : b.close_reason;
}

/**
 * Draws the portfolio into `root`. `status`, when given, is the one an action in progress writes to:
 * kept across the redraw that follows the action, so what it says stays on the page.
 */
export async function portfolioView(root: HTMLElement, status?: HTMLElement): Promise<void> {
  const who = wallet.current();
  if (!who) {
    const connect = h("button", { type: "button" }, "Connect wallet");
    connect.addEventListener("click", () => void wallet.connect().then(() => portfolioView(root)));
    root.replaceChildren(h("h1", {}, "Portfolio"), h("p", {}, "Connect your wallet to see your hours. "), connect);
    return;
  }
  const [p, open] = await Promise.all([accounts.positions(who.address), orders.open(who.address)]);
  const place: Place = {
    slot: h("div", { class: "action-slot" }),
    status: status ?? h("p", { role: "status", "data-testid": "action-status" }),
    // Only while the portfolio is still the view shown: the reader may have gone elsewhere meanwhile.
    redraw: async () => (location.hash.startsWith("#/portfolio") ? portfolioView(root, place.status) : undefined),
  };
  const act = (label: string, testid: string, run: () => Promise<void>) => {
    const b = h("button", { type: "button", "data-testid": testid }, label);
    b.addEventListener("click", () =>
      run().catch((error: unknown) => {
        place.status.textContent = problem(error, label.toLowerCase());
        place.status.classList.add("error");
      }),
    );
    return b;
  };
  const positions = p.positions.map((pos) =>
    h(
      "tr",
      { "data-capacity": pos.capacity_id },
      h("td", {}, h("a", { href: `#/capacity/${pos.capacity_id}` }, `#${pos.capacity_id}`)),
      h("td", {}, pos.gpu_class),
      h("td", { class: "num" }, pos.amount),
      h("td", {}, `${formatTime(pos.start)} to ${formatTime(pos.end)}`),
      h("td", {}, pos.status),
      pos.status === "active" && pos.amount > 0
        ? h(
            "td",
            { class: "actions" },
            act("Book hours", "activate", () => activateForm(pos, place)),
            " ",
            act("Resell", "resell", () => resellForm(pos, place)),
          )
        : h("td", {}),
    ),
  );
  const bookings = p.bookings.map((b) =>
    h(
      "tr",
      { "data-booking": String(b.booking_id) },
      h("td", {}, h("a", { href: `#/capacity/${b.capacity_id}` }, `#${b.capacity_id}`)),
      h("td", {}, formatTime(b.start)),
      h("td", { class: "num" }, b.hours),
      h("td", { class: "num" }, b.gpus),
      h("td", {}, bookingState(b)),
    ),
  );
  const openRows = open.map((o) =>
    h(
      "tr",
      { "data-order": o.hash },
      h("td", {}, h("a", { href: `#/capacity/${o.order.capacityId}` }, `#${o.order.capacityId}`)),
      h("td", {}, o.kind === "buy" ? "bid" : o.kind === "sell" ? "resale" : "provider"),
      h("td", { class: "num price" }, formatUsd(BigInt(o.order.price))),
      h("td", { class: "num" }, String(o.remaining)),
      h("td", { class: "num" }, o.order.amount),
      h("td", {}, formatTime(Number(o.order.expiry))),
      h("td", { title: o.hash }, shortAddress(o.hash)),
      h("td", { class: "actions" }, act("Cancel", "cancel", () => cancelOrder(o, place))),
    ),
  );
  root.replaceChildren(
    h("h1", {}, "Portfolio"),
    h(
      "p",
      { class: "note" },
      `${who.address}: ${count(p.positions_total, "capacity", "capacities")} held, ${count(p.bookings_total, "booking")}, ${count(p.open_orders, "open order")}, `,
      h("span", { "data-testid": "claimable" }, formatUsd(p.claimable)),
      " to claim. ",
      BigInt(p.claimable) > 0n ? act(`Claim ${formatUsd(p.claimable)}`, "claim", () => claim(BigInt(p.claimable), place)) : "",
    ),
    place.status,
    place.slot,
    h("h2", {}, "GPU-hours held"),
    positions.length
      ? table("positions", ["Capacity", "GPU class", "GPU-hours held", "Window", "Status", ""], positions)
      : h("p", {}, "No GPU-hours held."),
    h("h2", {}, "Bookings"),
    bookings.length
      ? table("bookings", ["Capacity", "From", "Hours", "GPUs", "Status"], bookings)
      : h("p", { "data-testid": "bookings" }, "No bookings."),
    h("h2", {}, "Open orders"),
    openRows.length
      ? table("open-orders", ["Capacity", "Kind", "Price /GPU-h", "GPU-hours left", "Of", "Expires", "Order", ""], openRows)
      : h("p", { "data-testid": "open-orders" }, "No open orders."),
  );
}
