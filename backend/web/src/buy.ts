// Buying hours from an ask: the API builds the fill, the page shows it, the wallet signs and sends it,
// and the page follows it to its receipt and into the market's index.
import { needsAllowance, tx as build, type BookOrder, type UnsignedTx } from "./api";
import { h, shortAddress } from "./dom";
import { formatUsd } from "./money";
import { hoursOnSale, planCost, planFills, type PlannedFill } from "./fills";
import { splitSignature } from "./orders";
import { indexed, say } from "./txflow";
import * as wallet from "./wallet";


/** How long a permit signed for a purchase stays good, from the chain's clock. */
const PERMIT_SECONDS = 3600n;

/** The order choice that buys across the asks, cheapest first. */
const ACROSS = "across";

/** What a plan buys and from whom, in words. */
function describe(plan: PlannedFill[], hours: number): { what: string; from: string } {
  const cost = formatUsd(planCost(plan));
  const from = plan.map((f) => `${shortAddress(f.order.maker)}'s order ${shortAddress(f.order.order_hash)}`).join(", ");
  if (plan.length === 1) return { what: `${hours} GPU-hours at ${formatUsd(plan[0].order.price)} = ${cost}`, from };
  const parts = plan.map((f) => `${f.amount} at ${formatUsd(f.order.price)}`).join(" + ");
  return { what: `${hours} GPU-hours: ${parts} = ${cost}, in one transaction`, from };
}

function review(plan: PlannedFill[], hours: number, unsigned: UnsignedTx, status: HTMLElement) {
  const { what, from } = describe(plan, hours);
  const send = h("button", { type: "button", "data-testid": "tx-send" }, "Sign and send");
  const panel = h(
    "section",
    { class: "tx-review", "data-testid": "tx-review" },
    h("h3", {}, "Check the transaction before you sign it"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "You buy"),
      h("dd", {}, what),
      h("dt", {}, "From"),
      h("dd", {}, from),
      h("dt", {}, "Sent by"),
      h("dd", {}, unsigned.from),
      h("dt", {}, "To (the Exchange)"),
      h("dd", {}, unsigned.to),
      h("dt", {}, "Gas limit"),
      h("dd", {}, String(unsigned.gas)),
      h("dt", {}, "Chain"),
      h("dd", {}, String(unsigned.chainId)),
      h("dt", {}, "Data"),
      h("dd", { class: "data", title: unsigned.data }, `${unsigned.data.slice(0, 10)}… (${(unsigned.data.length - 2) / 2} bytes)`),
    ),
    send,
  );
  send.addEventListener("click", async () => {
    send.setAttribute("disabled", "");
    try {
      status.textContent = "Waiting for your wallet…";
      const hash = await wallet.send(unsigned);
      status.textContent = `Sent ${hash}; waiting for its receipt…`;
      const mined = await wallet.receipt(hash);
      status.textContent = `Confirmed in block ${mined.blockNumber}; waiting for the market to index it…`;
      const seen = await indexed(mined.blockNumber);
      status.replaceChildren(
        seen
          ? `Bought ${hours} GPU-hours in block ${mined.blockNumber}. `
          : `Confirmed in block ${mined.blockNumber}; the market has not indexed it yet. `,
        h("a", { href: "#/portfolio" }, "See your portfolio"),
      );
      status.dataset.done = "true";
      panel.remove();
    } catch (error) {
      say(status, error, "the purchase");
      send.removeAttribute("disabled");
    }
  });
  return panel;
}

/**
 * The approval a buyer without enough allowance signs first: the API builds `approve(exchange, cost)`,
 * the page shows it, the wallet sends it, and once its receipt is in the fill is built and shown.
 */
function approveReview(
  cost: bigint,
  unsigned: UnsignedTx,
  status: HTMLElement,
  then: () => Promise<void>,
  permit?: () => Promise<void>,
) {
  const send = h("button", { type: "button", "data-testid": "approve-send" }, "Approve and continue");
  const sign = h("button", { type: "button", "data-testid": "permit-sign" }, "Sign a permit instead");
  const panel = h(
    "section",
    { class: "tx-review", "data-testid": "approve-review" },
    h("h3", {}, "First, let the Exchange take the payment"),
    h(
      "p",
      { class: "note" },
      `Your wallet has not allowed the Exchange to spend ${formatUsd(cost)} of your stablecoin. Approve that amount, then sign the purchase.`,
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Allow the Exchange to spend"),
      h("dd", {}, formatUsd(cost)),
      h("dt", {}, "Sent by"),
      h("dd", {}, unsigned.from),
      h("dt", {}, "To (the stablecoin)"),
      h("dd", {}, unsigned.to),
      h("dt", {}, "Gas limit"),
      h("dd", {}, String(unsigned.gas)),
      h("dt", {}, "Chain"),
      h("dd", {}, String(unsigned.chainId)),
      h("dt", {}, "Data"),
      h("dd", { class: "data", title: unsigned.data }, `${unsigned.data.slice(0, 10)}… (${(unsigned.data.length - 2) / 2} bytes)`),
    ),
    send,
    permit ? " " : "",
    permit ? sign : "",
    permit
      ? h(
          "p",
          { class: "note" },
          "A permit (EIP-2612) is a signature, not a transaction: no gas, and the purchase carries it, so one transaction in all.",
        )
      : "",
  );
  sign.addEventListener("click", async () => {
    if (!permit) return;
    sign.setAttribute("disabled", "");
    status.classList.remove("error");
    try {
      await permit();
      panel.remove();
    } catch (error) {
      say(status, error, "the permit");
      sign.removeAttribute("disabled");
    }
  });
  send.addEventListener("click", async () => {
    send.setAttribute("disabled", "");
    status.classList.remove("error");
    try {
      status.textContent = "Waiting for your wallet to approve…";
      const hash = await wallet.send(unsigned);
      status.textContent = `Approval sent ${hash}; waiting for its receipt…`;
      const mined = await wallet.receipt(hash);
      status.textContent = `Approved in block ${mined.blockNumber}. Building the purchase…`;
      panel.remove();
      await then();
    } catch (error) {
      say(status, error, "the approval");
      send.removeAttribute("disabled");
    }
  });
  return panel;
}

/** A form to buy from the best asks of a capacity's book; empty when nothing is for sale. */
export function buyForm(asks: BookOrder[]): HTMLElement {
  if (!asks.length) return h("section", {});
  const choice = h(
    "select",
    { name: "order", "data-testid": "buy-order" },
    ...asks.map((o) => h("option", { value: o.order_hash }, `${formatUsd(o.price)} /GPU-h, ${o.remaining} left`)),
    asks.length > 1 ? h("option", { value: ACROSS }, `Cheapest first, across the asks (${hoursOnSale(asks)} left)`) : null,
  );
  const hours = h("input", { name: "hours", value: "1", inputmode: "numeric", size: "5", "data-testid": "buy-hours" });
  const status = h("p", { role: "status", "data-testid": "tx-status" });
  const slot = h("div", {});
  const form = h(
    "form",
    { class: "buy", "data-testid": "buy-form" },
    h("label", {}, "Order ", choice),
    h("label", {}, " GPU-hours ", hours),
    " ",
    h("button", { type: "submit", "data-testid": "buy-review" }, "Review purchase"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.classList.remove("error");
    delete status.dataset.done;
    slot.replaceChildren();
    const across = choice.value === ACROSS;
    const order = asks.find((o) => o.order_hash === choice.value) ?? asks[0];
    const most = across ? hoursOnSale(asks) : order.remaining;
    const n = Number(hours.value);
    if (!Number.isInteger(n) || n < 1 || n > most) {
      status.textContent = `GPU-hours: a whole number from 1 to ${most}.`;
      status.classList.add("error");
      return;
    }
    const plan = across ? planFills(asks, n) : [{ order, amount: n }];
    const single = plan.length === 1 ? plan[0].order : null;
    try {
      const who = wallet.current() ?? (await wallet.connect());
      const fill = async () => {
        status.textContent = "Building the transaction…";
        const unsigned = single
          ? await build.fill(who.address, single.order_hash, n)
          : await build.fillBatch(who.address, plan.map((f) => ({ order_hash: f.order.order_hash, amount: f.amount })));
        status.textContent = "";
        slot.replaceChildren(review(plan, n, unsigned, status));
      };
      try {
        await fill();
      } catch (error) {
        if (!needsAllowance(error)) throw error;
        const cost = planCost(plan);
        const approval = await build.approve(who.address, cost);
        status.textContent = "";
        // Or a permit, where the stablecoin takes one: signed, then carried by the fill itself (one
        // order: the Exchange's batch takes none).
        const withPermit = async () => {
          if (!single) return;
          const deadline = (await wallet.chainTime()) + PERMIT_SECONDS;
          const typed = await build.permit(who.address, cost, deadline);
          status.textContent = "Waiting for your wallet to sign the permit…";
          const signature = await wallet.signTypedJson(who.address, typed, "the permit");
          status.textContent = "Building the purchase…";
          const unsigned = await build.fill(who.address, single.order_hash, n, { value: cost, deadline, ...splitSignature(signature) });
          status.textContent = "";
          slot.replaceChildren(review(plan, n, unsigned, status));
        };
        slot.replaceChildren(
          approveReview(
            cost,
            approval,
            status,
            () => fill().catch((e: unknown) => say(status, e, "preparing the purchase")),
            single ? withPermit : undefined,
          ),
        );
      }
    } catch (error) {
      say(status, error, "preparing the purchase");
    }
  });
  return h("section", { class: "buy-section" }, h("h2", {}, "Buy GPU-hours"), form, slot, status);
}
