// The Lending view: each pool (one per GPU class) with its totals and rates, the connected wallet's
// deposit and position, and its actions (supply, withdraw, pledge held hours, borrow, repay). Every
// transaction is built by the API (`POST /tx/pools/...`, an approval first where one is needed, then
// the step asked again), shown before signing and followed to its receipt, the view then redrawn.
import { accounts, ApiError, pools, type Pool, type PoolPosition, type PoolTxs, type Position } from "./api";
import { type Place } from "./actions";
import { h } from "./dom";
import { checkAmount, checkUnits, formatHealth, formatLiquidationPrice, formatPercent, healthAfter } from "./lending";
import { formatUsd } from "./money";
import { problem, txPanel } from "./txflow";
import * as wallet from "./wallet";

type Step = "supply" | "withdraw" | "pledge" | "borrow" | "repay";
const MAX_UINT256 = 2n ** 256n - 1n;

function facts(testid: string, rows: [string, string][]): HTMLElement {
  return h("dl", { class: "facts", "data-testid": testid }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A refusal of the pool said plainly, with its numbers where the page knows what to advise. */
export function poolProblem(error: unknown, doing: string): string {
  if (error instanceof ApiError && error.details.error === "Unhealthy") {
    const f = (error.details.fields ?? {}) as { debt?: bigint | number; maxDebt?: bigint | number };
    if (f.debt !== undefined && f.maxDebt !== undefined)
      return `That borrow would leave you owing ${formatUsd(f.debt)} against the ${formatUsd(f.maxDebt)} your pledged GPU-hours allow, so the position could be liquidated: borrow less, or pledge more GPU-hours first. Nothing was sent.`;
  }
  return problem(error, doing);
}

interface Wanted {
  step: Step;
  body: Record<string, unknown>;
  title: string;
  what: [string, string][];
  doing: string;
  sendLabel: string;
  done: string;
}

/**
 * Asks the API for `w`'s transactions and shows the first for review; once it is mined, the next, or
 * (an approval, `then` set) asks for the step again. Nothing is sent before the reader signs.
 */
async function runStep(pool: Pool, w: Wanted, place: Place, review: HTMLElement, keep: HTMLElement | null = null): Promise<void> {
  place.status.classList.remove("error");
  delete place.status.dataset.done;
  place.status.textContent = "Building the transaction…";
  review.replaceChildren(...(keep ? [keep] : []));
  let txs: PoolTxs;
  try {
    txs = await pools.tx(pool.address, w.step, w.body);
  } catch (error) {
    place.status.textContent = poolProblem(error, w.doing);
    place.status.classList.add("error");
    return;
  }
  place.status.textContent = "";
  const approval = txs.then !== null;
  // An approval's own status, so that the step's status says done only once the step itself is.
  const status = approval ? h("p", { role: "status", class: "note", "data-testid": "approval-status" }) : place.status;
  const show = (i: number): void => {
    const last = i === txs.transactions.length - 1;
    const panel = txPanel(
      {
        title: approval ? `First, allow the ${pool.gpu_class} pool to take what ${w.doing} needs` : w.title,
        what: approval
          ? [["You approve", w.step === "pledge" ? "the pool to move the GPU-hours you pledge (ERC-1155 approval for all)" : "the pool to spend the stablecoin of this step"], ...w.what]
          : w.what,
        unsigned: txs.transactions[i],
        to: approval ? (w.step === "pledge" ? "GpuHours" : "Stablecoin") : `LendingPool ${pool.gpu_class}`,
        doing: approval ? "the approval" : w.doing,
        sendLabel: approval ? "Sign and approve" : w.sendLabel,
        done: (block) => (approval ? `Approved in block ${block}; now check and sign ${w.doing}.` : `${w.done} in block ${block}.`),
      },
      status,
      async () => {
        if (!last) return show(i + 1);
        if (approval) return runStep(pool, w, place, review, status);
        return place.redraw();
      },
    );
    review.replaceChildren(...(keep ? [keep] : []), panel, ...(approval ? [status] : []));
  };
  show(0);
}

/** A form of one amount for `step` on `pool`; `check` turns the text into the request or a sentence. */
function amountForm(
  testid: string,
  title: string,
  label: string,
  initial: string,
  check: (text: string) => Wanted | string,
  pool: Pool,
  place: Place,
): HTMLElement {
  const input = h("input", { name: "amount", value: initial, size: "10", "data-testid": `${testid}-amount` });
  const review = h("div", {});
  const form = h(
    "form",
    { class: "action", "data-testid": `${testid}-form` },
    h("h3", {}, title),
    h("label", {}, label, " ", input),
    " ",
    h("button", { type: "submit", "data-testid": `${testid}-review` }, "Review"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    review.replaceChildren();
    const wanted = check(input.value);
    if (typeof wanted === "string") {
      delete place.status.dataset.done;
      place.status.textContent = wanted;
      place.status.classList.add("error");
      return;
    }
    void runStep(pool, wanted, place, review);
  });
  return h("div", {}, form, review);
}

interface Mine {
  vault: { shares: bigint; assets: bigint } | null;
  position: PoolPosition | null;
  held: Position[];
}

function poolSection(pool: Pool, who: string | null, mine: Mine | null, place: Place): HTMLElement {
  const section = h(
    "section",
    { class: "pool", "data-pool": pool.gpu_class, "data-address": pool.address },
    h("h2", {}, `${pool.gpu_class} pool`),
    facts("pool-facts", [
      ["Supplied", formatUsd(pool.total_supplied)],
      ["Borrowed", formatUsd(pool.total_borrowed)],
      ["Available to borrow", formatUsd(pool.cash)],
      ["Utilization", formatPercent(pool.utilization)],
      ["Borrow APY", formatPercent(pool.borrow_apy)],
      ["Supply APY", formatPercent(pool.supply_apy)],
      ["Loan-to-value limit", formatPercent(Number(pool.terms.lltv) / 1e18)],
      ["Mark per GPU-hour", BigInt(pool.mark) > 0n ? formatUsd(pool.mark) : "none yet: borrowing waits for the oracle's first mark"],
    ]),
  );
  if (!who || !mine) {
    section.append(h("p", { class: "note" }, "Connect your wallet to supply, or to borrow against your GPU-hours."));
    return section;
  }
  const p = mine.position;
  const debt = p ? BigInt(p.debt) : 0n;
  const maxDebt = p ? BigInt(p.max_debt) : 0n;
  const vault = mine.vault;
  section.append(
    h("h3", {}, "Your deposit"),
    facts("my-deposit", [
      ["Vault shares", vault ? vault.shares.toString() : "—"],
      ["Worth now (withdrawable)", vault ? formatUsd(vault.assets) : "—"],
    ]),
    h("h3", {}, "Your position"),
    p
      ? facts("my-position", [
          ["Pledged", p.collateral.length ? p.collateral.map((c) => `${c.units} GPU-hours of capacity #${c.capacity_id}`).join(", ") : "nothing"],
          ["Collateral value", formatUsd(p.collateral_value)],
          ["Debt", formatUsd(debt)],
          ["Most you may owe", formatUsd(maxDebt)],
          ["Health factor", formatHealth(p.health_factor)],
          ["Liquidation price", formatLiquidationPrice(p.liquidation_price, debt)],
        ])
      : h("p", { "data-testid": "my-position" }, "No position: pledge GPU-hours of this class to borrow."),
  );
  const slot = h("div", { class: "action-slot" });
  const open = (label: string, testid: string, make: () => HTMLElement) => {
    const b = h("button", { type: "button", "data-testid": testid }, label);
    b.addEventListener("click", () => {
      place.status.textContent = "";
      place.status.classList.remove("error");
      slot.replaceChildren(make());
    });
    return b;
  };
  const supply = () =>
    amountForm("supply", `Supply stablecoin to the ${pool.gpu_class} pool`, "Dollars", "100", (t) => {
      const assets = checkAmount(t, "Supply");
      if (typeof assets === "string") return assets;
      return {
        step: "supply",
        body: { owner: who, assets },
        title: "Check the deposit before you sign it",
        what: [["You supply", `${formatUsd(assets)} to the ${pool.gpu_class} pool, earning ${formatPercent(pool.supply_apy)} a year now`]],
        doing: "the deposit",
        sendLabel: "Sign and supply",
        done: `Supplied ${formatUsd(assets)}`,
      };
    }, pool, place);
  const withdraw = () =>
    amountForm("withdraw", `Withdraw from the ${pool.gpu_class} pool`, "Dollars", vault ? formatUsd(vault.assets).slice(1).replaceAll(",", "") : "", (t) => {
      const assets = checkAmount(t, "Withdraw", { units: vault?.assets ?? 0n, why: "what you can withdraw now" });
      if (typeof assets === "string") return assets;
      return {
        step: "withdraw",
        body: { owner: who, assets },
        title: "Check the withdrawal before you sign it",
        what: [["You withdraw", `${formatUsd(assets)} from the ${pool.gpu_class} pool to ${who}`]],
        doing: "the withdrawal",
        sendLabel: "Sign and withdraw",
        done: `Withdrew ${formatUsd(assets)}`,
      };
    }, pool, place);
  const pledge = (pos: Position) => () =>
    amountForm(`pledge`, `Pledge GPU-hours of capacity #${pos.capacity_id} (you hold ${pos.amount})`, "GPU-hours", String(pos.amount), (t) => {
      const units = checkUnits(t, pos.amount);
      if (typeof units === "string") return units;
      return {
        step: "pledge",
        body: { borrower: who, capacity_id: pos.capacity_id, units },
        title: "Check the pledge before you sign it",
        what: [["You pledge", `${units} GPU-hours of capacity #${pos.capacity_id} to the ${pool.gpu_class} pool, as collateral`]],
        doing: "the pledge",
        sendLabel: "Sign and pledge",
        done: `Pledged ${units} GPU-hours of capacity #${pos.capacity_id}`,
      };
    }, pool, place);
  const borrow = () =>
    amountForm("borrow", `Borrow from the ${pool.gpu_class} pool (you may owe up to ${formatUsd(maxDebt)})`, "Dollars", "", (t) => {
      const assets = checkAmount(t, "Borrow");
      if (typeof assets === "string") return assets;
      return {
        step: "borrow",
        body: { borrower: who, assets },
        title: "Check the loan before you sign it",
        what: [
          ["You borrow", `${formatUsd(assets)} at ${formatPercent(pool.borrow_apy)} a year now, paid to ${who}`],
          ["Health factor after", formatHealth(healthAfter(maxDebt, debt, assets))],
        ],
        doing: "the loan",
        sendLabel: "Sign and borrow",
        done: `Borrowed ${formatUsd(assets)}`,
      };
    }, pool, place);
  const repay = () =>
    amountForm("repay", `Repay your debt to the ${pool.gpu_class} pool (${formatUsd(debt)} now)`, "Dollars, or all", "all", (t) => {
      const all = t.trim().toLowerCase() === "all";
      const assets = all ? MAX_UINT256 : checkAmount(t, "Repay", { units: debt, why: "what you owe" });
      if (typeof assets === "string") return assets;
      const said = all ? "all you owe (interest to the block)" : formatUsd(assets);
      return {
        step: "repay",
        body: { payer: who, borrower: who, assets },
        title: "Check the repayment before you sign it",
        what: [["You repay", `${said} of your debt to the ${pool.gpu_class} pool`]],
        doing: "the repayment",
        sendLabel: "Sign and repay",
        done: `Repaid ${said}`,
      };
    }, pool, place);
  const actions = h(
    "p",
    { class: "actions" },
    open("Supply", "supply", supply),
    " ",
    vault && vault.assets > 0n ? open("Withdraw", "withdraw", withdraw) : "",
    " ",
    ...mine.held.map((pos) => open(`Pledge hours of #${pos.capacity_id}`, `pledge-${pos.capacity_id}`, pledge(pos))),
    " ",
    p && BigInt(p.collateral_value) > 0n ? open("Borrow", "borrow", borrow) : "",
    " ",
    debt > 0n ? open("Repay", "repay", repay) : "",
  );
  section.append(actions, slot);
  return section;
}

/** Draws the Lending view into `root`; `status` kept across the redraw an action makes. */
export async function lendingView(root: HTMLElement, status?: HTMLElement): Promise<void> {
  const who = wallet.current();
  const list = await pools.list();
  const place: Place = {
    slot: h("div", {}),
    status: status ?? h("p", { role: "status", "data-testid": "action-status" }),
    redraw: async () => (location.hash.startsWith("#/lending") ? lendingView(root, place.status) : undefined),
  };
  let mine: (Mine | null)[] = list.map(() => null);
  if (who) {
    const held = (await accounts.positions(who.address)).positions.filter((p) => p.status === "active" && p.amount > 0);
    mine = await Promise.all(
      list.map(async (pool) => ({
        vault: await wallet.vaultOf(pool.address, who.address).catch(() => null),
        position: await pools.position(pool.address, who.address),
        held: held.filter((p) => p.gpu_class === pool.gpu_class),
      })),
    );
  }
  const connect = h("button", { type: "button" }, "Connect wallet");
  connect.addEventListener("click", () => void wallet.connect().then(() => lendingView(root)));
  root.replaceChildren(
    h("h1", {}, "Lending"),
    h(
      "p",
      { class: "note" },
      "Lenders supply stablecoin to a GPU class's pool and earn what borrowers pay; holders of GPU-hours pledge them and borrow against their value at the class's mark. A position owing more than its limit can be liquidated.",
    ),
    who ? "" : connect,
    place.status,
    ...list.map((pool, i) => poolSection(pool, who?.address ?? null, mine[i], place)),
  );
}
