// What a holder does with GPU-hours from the portfolio: book them (activate), resell them (sign an
// order, post it), and cancel an open order. Each writes into the portfolio's `slot` and `status`;
// `redraw` re-reads the portfolio once something is done.
import { api, marketInfo, orders, tx as build, type PostedOrder, type Position } from "./api";
import * as auth from "./auth";
import { formatTime, h, shortAddress } from "./dom";
import { bookableStarts, checkBooking } from "./hours";
import { formatUsd } from "./money";
import { checkOrder, newOrder, orderBody, orderTypedData, randomSalt, whyNotCancellable, type OrderKindName } from "./orders";
import { problem, say, txPanel } from "./txflow";
import * as wallet from "./wallet";

export interface Place {
  slot: HTMLElement;
  status: HTMLElement;
  redraw: () => Promise<void>;
}

function begin(place: Place, text = ""): void {
  place.status.classList.remove("error");
  delete place.status.dataset.done;
  place.status.textContent = text;
}

function fail(place: Place, text: string): void {
  place.status.textContent = text;
  place.status.classList.add("error");
}

/** A form to book `pos`'s hours: a start hour the window still allows, hours and GPUs. */
export async function activateForm(pos: Position, place: Place): Promise<void> {
  begin(place, "Reading the capacity and the chain's clock…");
  const who = wallet.current() ?? (await wallet.connect());
  const [c, now] = await Promise.all([api.capacity(pos.capacity_id), wallet.chainTime()]);
  const window = { start: c.start, end: c.end };
  const starts = bookableStarts(window, Number(now));
  begin(place);
  if (!starts.length) {
    fail(place, `Capacity #${c.capacity_id}'s window has no hour left to book.`);
    return;
  }
  const start = h(
    "select",
    { name: "start", "data-testid": "activate-start" },
    ...starts.map((t) => h("option", { value: t }, formatTime(t))),
  );
  const hours = h("input", { name: "hours", value: "1", inputmode: "numeric", size: "4", "data-testid": "activate-hours" });
  const gpus = h("input", { name: "gpus", value: "1", inputmode: "numeric", size: "3", "data-testid": "activate-gpus" });
  const form = h(
    "form",
    { class: "action", "data-testid": "activate-form" },
    h("h3", {}, `Book GPU-hours of capacity #${c.capacity_id} (you hold ${pos.amount})`),
    h("label", {}, "From ", start),
    h("label", {}, " for ", hours, " hours"),
    h("label", {}, " on ", gpus, ` of ${c.node.gpu_count} GPUs`),
    " ",
    h("button", { type: "submit", "data-testid": "activate-review" }, "Review booking"),
  );
  const review = h("div", {});
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    begin(place);
    review.replaceChildren();
    const asked = checkBooking(
      { start: start.value, hours: hours.value, gpus: gpus.value },
      window,
      Number(await wallet.chainTime().catch(() => now)),
      pos.amount,
      c.node.gpu_count,
    );
    if (typeof asked === "string") return fail(place, asked);
    try {
      place.status.textContent = "Building the transaction…";
      const unsigned = await build.activate(who.address, c.capacity_id, asked.start, asked.hours, asked.gpus);
      place.status.textContent = "";
      const what = `${asked.gpus} GPUs × ${asked.hours} h from ${formatTime(asked.start)}`;
      review.replaceChildren(
        txPanel(
          {
            title: "Check the booking before you sign it",
            what: [
              ["You book", `${what} on node ${c.node_id} (${c.node.gpu_model})`],
              ["It uses", `${asked.gpus * asked.hours} of your ${pos.amount} GPU-hours of capacity #${c.capacity_id}`],
            ],
            unsigned,
            to: "GpuHours",
            doing: "the booking",
            sendLabel: "Sign and book",
            done: (block, seen) =>
              `Booked ${what} of capacity #${c.capacity_id} in block ${block}.${seen ? "" : " The market has not indexed it yet."}`,
          },
          place.status,
          place.redraw,
        ),
      );
    } catch (error) {
      fail(place, problem(error, "the booking"));
    }
  });
  place.slot.replaceChildren(form, review);
}

/** An order the form may post: its kind, what the choice says, and the most GPU-hours it may offer. */
export interface OrderChoice {
  kind: OrderKindName;
  label: string;
  most: number | null; // null: a bid, for any number
}

const SAYS: Record<OrderKindName, [string, string]> = {
  sell: ["You sell", "less the fee"],
  primary_sell: ["You list", "less the fee, as they are bought"],
  buy: ["You bid for", "paid as it is filled"],
};

/**
 * A form to post an order on capacity `capacityId` (`testid` prefixes its fields): the order is built
 * here on the chain's clock and the maker's counter, shown, signed by the wallet (EIP-712) and posted
 * to `POST /orders` with the sign-in's token when the signed-in address is the maker.
 */
export function orderForm(capacityId: number, choices: OrderChoice[], title: string, testid: string, place: Place): HTMLElement {
  const kind = h(
    "select",
    { name: "kind", "data-testid": `${testid}-kind` },
    ...choices.map((c) => h("option", { value: c.kind }, c.label)),
  );
  const first = choices[0].most;
  const amount = h("input", { name: "amount", value: first === null ? "1" : String(first), inputmode: "numeric", size: "5", "data-testid": `${testid}-amount` });
  const price = h("input", { name: "price", placeholder: "2.40", inputmode: "decimal", size: "7", "data-testid": `${testid}-price` });
  const expires = h("input", { name: "expires", value: "24", inputmode: "numeric", size: "4", "data-testid": `${testid}-expires` });
  const form = h(
    "form",
    { class: "action", "data-testid": `${testid}-form` },
    h("h3", {}, title),
    choices.length > 1 ? h("label", {}, kind, " ") : "",
    h("label", {}, amount, " GPU-hours"),
    h("label", {}, " at $", price, " per GPU-hour"),
    h("label", {}, ", for ", expires, " hours"),
    " ",
    h("button", { type: "submit", "data-testid": `${testid}-review` }, "Review order"),
  );
  const review = h("div", {});
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    begin(place);
    review.replaceChildren();
    const choice = choices.find((c) => c.kind === kind.value) ?? choices[0];
    const terms = checkOrder({ amount: amount.value, price: price.value, expiresInHours: expires.value }, choice.most);
    if (typeof terms === "string") return fail(place, terms);
    try {
      const who = wallet.current() ?? (await wallet.connect());
      place.status.textContent = "Reading the chain's clock and your order counter…";
      const market = await marketInfo();
      const exchange = market.contracts.Exchange;
      const [now, counter] = await Promise.all([wallet.chainTime(), wallet.orderCounter(exchange, who.address)]);
      const message = newOrder(choice.kind, who.address, capacityId, terms, now, counter, randomSalt());
      place.status.textContent = "";
      const [verb, tail] = SAYS[choice.kind];
      const sign = h("button", { type: "button", "data-testid": "order-sign" }, "Sign and post");
      const total = terms.price * terms.amount;
      const panel = h(
        "section",
        { class: "tx-review", "data-testid": "order-review" },
        h("h3", {}, "Check the order before you sign it"),
        h(
          "p",
          { class: "note" },
          "Signing sends nothing and costs no gas: the order goes on the book, and anyone may fill it until it expires or you cancel it.",
        ),
        h(
          "dl",
          { class: "facts" },
          ...(
            [
              [verb, `${terms.amount} GPU-hours of capacity #${capacityId} at ${formatUsd(terms.price)} = ${formatUsd(total)}, ${tail}`],
              ["Expires", formatTime(Number(message.expiry))],
              ["Maker", who.address],
              ["Exchange", exchange],
              ["Chain", String(market.chain_id)],
              ["Counter", message.counter.toString()],
            ] as const
          ).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
        ),
        sign,
      );
      sign.addEventListener("click", async () => {
        sign.setAttribute("disabled", "");
        begin(place, "Waiting for your wallet to sign the order…");
        try {
          const typed = orderTypedData(message, market.chain_id, exchange);
          const signature = await wallet.signOrder(who.address, typed, "the order's signature");
          place.status.textContent = "Posting the order…";
          const session = auth.current();
          const token = session?.address.toLowerCase() === who.address.toLowerCase() ? auth.authorization() : {};
          const posted = await orders.post(orderBody(message, signature, market.chain_id, exchange), token);
          panel.remove();
          await place.redraw().catch(() => undefined);
          place.status.textContent = `Posted order ${shortAddress(posted.hash)}: ${verb.replace("You ", "").toLowerCase()} ${terms.amount} GPU-hours of capacity #${capacityId} at ${formatUsd(terms.price)}, on the book until ${formatTime(Number(message.expiry))}.`;
          place.status.dataset.done = "true";
          place.status.dataset.order = posted.hash;
        } catch (error) {
          say(place.status, error, "the order");
          sign.removeAttribute("disabled");
        }
      });
      review.replaceChildren(panel);
    } catch (error) {
      fail(place, problem(error, "the order"));
    }
  });
  return h("div", {}, form, review);
}

/** A form to resell `pos`'s hours, in the portfolio. */
export async function resellForm(pos: Position, place: Place): Promise<void> {
  begin(place);
  const choices: OrderChoice[] = [{ kind: "sell", label: "Sell", most: pos.amount }];
  place.slot.replaceChildren(
    orderForm(pos.capacity_id, choices, `Resell GPU-hours of capacity #${pos.capacity_id} (you hold ${pos.amount})`, "resell", place),
  );
}

/** Cancel `order` on chain (Exchange.cancel, built by the API), once it is known to be still open. */
export async function cancelOrder(order: PostedOrder, place: Place): Promise<void> {
  begin(place, "Checking the order…");
  place.slot.replaceChildren();
  try {
    const who = wallet.current() ?? (await wallet.connect());
    const now = await orders.get(order.hash); // its state now, not as the portfolio was drawn
    const why = whyNotCancellable(now.state);
    if (why) {
      fail(place, why);
      await place.redraw().catch(() => undefined);
      return;
    }
    place.status.textContent = "Building the transaction…";
    const unsigned = await build.cancel(who.address, [order.hash]);
    place.status.textContent = "";
    const what = `${now.remaining} of ${now.order.amount} GPU-hours of capacity #${now.order.capacityId} at ${formatUsd(BigInt(now.order.price))}`;
    place.slot.replaceChildren(
      txPanel(
        {
          title: "Check the cancellation before you sign it",
          what: [
            ["You cancel", `your order ${shortAddress(order.hash)}: ${what}, for good`],
          ],
          unsigned,
          to: "Exchange",
          doing: "the cancellation",
          sendLabel: "Sign and cancel",
          done: (block, seen) =>
            `Cancelled order ${shortAddress(order.hash)} in block ${block}: it can no longer be filled.${seen ? "" : " The market has not indexed it yet."}`,
        },
        place.status,
        place.redraw,
      ),
    );
  } catch (error) {
    fail(place, problem(error, "the cancellation"));
  }
}

/** Withdraw what escrow credited the account (refunds, slashed bond, earnings) to its own address. */
export async function claim(amount: bigint, place: Place): Promise<void> {
  begin(place, "Building the transaction…");
  place.slot.replaceChildren();
  try {
    const who = wallet.current() ?? (await wallet.connect());
    const unsigned = await build.claim(who.address);
    place.status.textContent = "";
    place.slot.replaceChildren(
      txPanel(
        {
          title: "Check the claim before you sign it",
          what: [
            ["You withdraw", `${formatUsd(amount)}: refunds, slashed bond and earnings credited to you in escrow`],
            ["Paid to", who.address],
          ],
          unsigned,
          to: "Escrow",
          doing: "the claim",
          sendLabel: "Sign and claim",
          done: (block, seen) =>
            `Claimed ${formatUsd(amount)} in block ${block}: it is in your wallet.${seen ? "" : " The market has not indexed it yet."}`,
        },
        place.status,
        place.redraw,
      ),
    );
  } catch (error) {
    fail(place, problem(error, "the claim"));
  }
}
