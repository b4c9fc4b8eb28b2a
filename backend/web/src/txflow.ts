// A transaction the API built, shown before signing, sent by the wallet, followed to its receipt and
// into the market's index: one panel for every action of the page (buy has its own, with its approval).
import { accounts, ApiError, type UnsignedTx } from "./api";
import { h } from "./dom";
import { plainRevert } from "./reverts";
import * as wallet from "./wallet";

const INDEX_WAIT_MS = 30_000;

/** Whether the market's index has reached `block` (polled until `INDEX_WAIT_MS`). */
export async function indexed(block: bigint): Promise<boolean> {
  const deadline = Date.now() + INDEX_WAIT_MS;
  while (Date.now() < deadline) {
    const at = await accounts.indexed().catch(() => null);
    if (at !== null && BigInt(at) >= block) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** What went wrong, said plainly: a revert the API foresaw by the contract's error, a wallet's refusal. */
export function problem(error: unknown, doing: string): string {
  if (error instanceof ApiError) {
    const plain = plainRevert(error.details.error);
    if (plain) return `${plain} Nothing was sent.`;
    return `${doing[0].toUpperCase()}${doing.slice(1)} was refused: ${error.reason}.`;
  }
  return wallet.explain(error, doing).message;
}

/**
 * Says `error` in `status` (class error). A wallet on another chain than the market's is offered the
 * switch: a button after `status` that asks the wallet to change networks, then says to sign again.
 */
export function say(status: HTMLElement, error: unknown, doing: string): void {
  status.textContent = problem(error, doing);
  status.classList.add("error");
  document.querySelector("[data-testid=switch-chain]")?.remove();
  if (!(error instanceof wallet.WalletError) || error.code !== "wrong_network" || error.chainId === undefined) return;
  const chainId = error.chainId;
  const button = h("button", { type: "button", "data-testid": "switch-chain" }, `Switch your wallet to chain ${chainId}`);
  button.addEventListener("click", async () => {
    button.setAttribute("disabled", "");
    try {
      await wallet.switchChain(chainId);
      button.remove();
      status.classList.remove("error");
      status.textContent = `Your wallet is on chain ${chainId} now: sign again.`;
    } catch (e) {
      status.textContent = wallet.explain(e, "switching networks").message;
      button.removeAttribute("disabled");
    }
  });
  status.after(button);
}

/** The transaction's own facts, after what it does in words. */
export function txFacts(unsigned: UnsignedTx, to: string): [string, string][] {
  return [
    ["Sent by", unsigned.from],
    [`To (${to})`, unsigned.to],
    ["Gas limit", String(unsigned.gas)],
    ["Chain", String(unsigned.chainId)],
    ["Data", `${unsigned.data.slice(0, 10)}… (${(unsigned.data.length - 2) / 2} bytes)`],
  ];
}

export interface TxStep {
  title: string;
  what: [string, string][]; // what the transaction does, in words
  unsigned: UnsignedTx;
  to: string; // the contract's name
  doing: string; // "the booking": for what the page says
  sendLabel: string;
  done: (block: bigint, seen: boolean) => string;
}

/**
 * The review panel of `step`: on "sign and send" the wallet sends it, the page follows it to its
 * receipt and the index, removes the panel, awaits `after` (the view redrawn) and says what was done
 * in `status` (data-done set).
 * A refusal or a revert is said in `status` (class error) and the panel stays, to try again.
 */
export function txPanel(step: TxStep, status: HTMLElement, after: () => Promise<void>): HTMLElement {
  const send = h("button", { type: "button", "data-testid": "tx-send" }, step.sendLabel);
  const panel = h(
    "section",
    { class: "tx-review", "data-testid": "tx-review" },
    h("h3", {}, step.title),
    h("dl", { class: "facts" }, ...[...step.what, ...txFacts(step.unsigned, step.to)].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    send,
  );
  send.addEventListener("click", async () => {
    send.setAttribute("disabled", "");
    status.classList.remove("error");
    try {
      status.textContent = "Waiting for your wallet…";
      const hash = await wallet.send(step.unsigned);
      status.textContent = `Sent ${hash}; waiting for its receipt…`;
      const mined = await wallet.receipt(hash);
      status.textContent = `Confirmed in block ${mined.blockNumber}; waiting for the market to index it…`;
      const seen = await indexed(mined.blockNumber);
      panel.remove();
      await after().catch(() => undefined); // a view that could not redraw still shows what was done
      status.textContent = step.done(mined.blockNumber, seen);
      status.dataset.done = "true";
    } catch (error) {
      say(status, error, step.doing);
      send.removeAttribute("disabled");
    }
  });
  return panel;
}
