// Drives the web page in headless Chromium (Debian's, never a downloaded build) and reports what a
// reader sees, as one JSON object on stdout; tests/web/test_page.py checks it against the API.
//   node tests/web/browse.mjs URL RPC_URL BUYER ARTIFACTS_DIR
// The wallet is a test EIP-1193 provider over an Anvil dev account (unlocked: Anvil signs), injected
// before the page loads; it can be told to be on another chain or to decline the next request.
// Every wait is on the page's own state (a view sets main[data-ready] once rendered), never a sleep.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, rpcUrl, buyer, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const executablePath = process.env.GPUHOURS_CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const report = { errors: [], foreign_requests: [], failed_requests: [] };
const origin = new URL(url).origin;
let rpcId = 0;
// A page whose injected wallet is `account`; what its console logs as an error goes to `errors`.
async function walletPage(account, errors = report.errors) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("request", (r) => !r.url().startsWith(origin) && !r.url().startsWith("data:") && report.foreign_requests.push(r.url()));
  // The live stream is the one request left open: its end as the browser closes is no failure.
  page.on("requestfailed", (r) => {
    if (r.url().startsWith(`${origin}/events/stream`) && r.failure()?.errorText === "net::ERR_ABORTED") return;
    report.failed_requests.push(`${r.url()}: ${r.failure()?.errorText}`);
  });

  // The test wallet: accounts from the test, everything else to Anvil from Node (no CORS in the way).
  await page.exposeFunction("__anvil", async (method, params) => {
    const answer = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params: params ?? [] }),
    });
    return answer.json();
  });
  await page.addInitScript((account) => {
    const wallet = { chainId: null, declineNext: false };
    window.__testWallet = wallet;
    window.ethereum = {
      async request({ method, params }) {
        const signs = ["eth_sendTransaction", "personal_sign", "eth_signTypedData_v4"];
        if (wallet.declineNext && signs.includes(method)) {
          wallet.declineNext = false;
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
        if (method === "wallet_switchEthereumChain") {
          wallet.switchedTo = params[0].chainId;
          const anvil = await window.__anvil("eth_chainId", []);
          wallet.chainId = params[0].chainId === anvil.result ? null : params[0].chainId;
          return null;
        }
        if (method === "eth_chainId" && wallet.chainId) return wallet.chainId;
        const answer = await window.__anvil(method, params);
        if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error);
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  }, account);
  return page;
}
try {
  const page = await walletPage(buyer);

  const view = async (hash, shot) => {
    await page.evaluate((h) => {
      delete document.getElementById("app").dataset.ready;
      // The view shown already is drawn again, as the page does on a change of view.
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent("hashchange"));
      else location.hash = h;
    }, hash);
    await page.waitForSelector("main[data-ready]");
    await page.screenshot({ path: join(artifacts, shot), fullPage: true });
  };
  // A uPlot chart as drawn: its canvas's size, whether anything is painted on it, its series' names.
  const chartSeen = (selector) =>
    page.$eval(selector, (el) => {
      const canvas = el.querySelector("canvas");
      return {
        width: canvas?.width ?? 0,
        height: canvas?.height ?? 0,
        series: [...el.querySelectorAll(".u-legend .u-series .u-label")].map((s) => s.textContent),
        drawn: canvas
          ? canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data.some((v) => v !== 0)
          : false,
      };
    });
  const rows = (selector) =>
    page.$$eval(selector, (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())));

  // The market as it opens: every active capacity, with its best ask in dollars.
  const started = Date.now();
  await page.goto(`${url}/`);
  await page.waitForSelector("main[data-ready]");
  report.market_ms = Date.now() - started;
  await page.screenshot({ path: join(artifacts, "market.png"), fullPage: true });
  report.market = {
    status: await page.textContent("[data-testid=market-status]"),
    rows: await rows("[data-testid=capacities] tbody tr"),
    headers: await page.$$eval("[data-testid=capacities] th", (ths) => ths.map((th) => th.textContent)),
  };

  // The filters, through the form: one GPU model, cheapest ask first.
  await page.fill("input[name=gpu_model]", "H100-SXM5-80GB");
  await page.selectOption("select[name=sort]", "price");
  await page.evaluate(() => delete document.getElementById("app").dataset.ready);
  await page.click("form[data-testid=filters] button[type=submit]");
  await page.waitForSelector("main[data-ready]");
  await page.screenshot({ path: join(artifacts, "market-filtered.png"), fullPage: true });
  report.filtered = { hash: await page.evaluate(() => location.hash), rows: await rows("[data-testid=capacities] tbody tr") };

  // A bad filter is said plainly.
  await page.fill("input[name=max_price]", "cheap");
  await page.evaluate(() => delete document.getElementById("app").dataset.ready);
  await page.click("form[data-testid=filters] button[type=submit]");
  await page.waitForSelector("main[data-ready]");
  report.bad_filter = await page.textContent("[data-testid=market-status]");

  // A capacity: its book and its node's record.
  const id = report.filtered.rows[0]?.[0]?.replace("#", "");
  await view(`#/capacity/${id}`, "capacity.png");
  report.capacity = {
    id: Number(id),
    title: await page.textContent("h1"),
    asks: await rows("table[data-testid=asks] tbody tr"),
    bids: await rows("table[data-testid=bids] tbody tr"),
    reliability: await page.textContent("[data-testid=reliability]"),
    efficiency_chart: await chartSeen("[data-testid=efficiency-chart]"),
  };

  // Prices: the index and a uPlot chart of the fills.
  await view("#/prices", "prices.png");
  report.prices = {
    rows: await rows("[data-testid=price-index] tbody tr"),
    chart: await chartSeen("[data-testid=price-chart]"),
  };

  // Buy 10 hours of the best ask through the wallet: on the wrong network first, then declined, then signed.
  await view(`#/capacity/${id}`, "buy.png");
  // Live: with the capacity open, a fill sent from outside the page (the API builds it, Anvil signs it
  // for the buyer, no browser involved) shows in its book without a reload. The time from the fill's
  // receipt to the page drawing it is the page's own stamp (main[data-live-at]) less the receipt's.
  await page.waitForSelector("[data-testid=live][data-state=live]");
  const rpc = async (method, params) => {
    const answer = await (
      await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
      })
    ).json();
    if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
    return answer.result;
  };
  const outside = 2;
  const providerAsk = await page.getAttribute("table[data-testid=asks] tbody tr", "data-order");
  const built = await (
    await fetch(`${url}/tx/fill`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ taker: buyer, order_hash: providerAsk, amount: outside }),
    })
  ).json();
  const hash = await rpc("eth_sendTransaction", [
    { from: built.from, to: built.to, data: built.data, value: `0x${BigInt(built.value).toString(16)}`, gas: `0x${BigInt(built.gas).toString(16)}` },
  ]);
  let mined = null;
  while (!mined) mined = await rpc("eth_getTransactionReceipt", [hash]);
  const receiptAt = Date.now();
  await page.waitForFunction(
    (left) => document.querySelector("table[data-testid=asks] tbody tr td:nth-child(2)")?.textContent.trim() === left,
    String(64 - outside),
    { timeout: 5_000 },
  );
  const seenAt = Date.now();
  const drawnAt = Number(await page.getAttribute("main", "data-live-at"));
  await page.screenshot({ path: join(artifacts, "capacity-live.png"), fullPage: true });
  report.live = {
    amount: outside,
    status: mined.status,
    indicator: await page.textContent("[data-testid=live]"),
    asks: await rows("table[data-testid=asks] tbody tr"),
    reloaded: await page.evaluate(() => performance.getEntriesByType("navigation").length !== 1),
    latency_ms: drawnAt - receiptAt,
    seen_ms: seenAt - receiptAt,
  };

  const status = () => page.textContent("[data-testid=tx-status]");
  const sendAndWait = async (expected) => {
    await page.click("[data-testid=tx-send]");
    await page.waitForFunction(
      (text) => document.querySelector("[data-testid=tx-status]")?.textContent.includes(text),
      expected,
    );
    return status();
  };
  await page.fill("[data-testid=buy-hours]", "10");
  await page.click("[data-testid=buy-review]");
  await page.waitForSelector("[data-testid=tx-review]");
  await page.screenshot({ path: join(artifacts, "buy-review.png"), fullPage: true });
  report.buy = {
    account: await page.getAttribute("[data-testid=account]", "data-address"),
    review: await page.textContent("[data-testid=tx-review]"),
  };
  await page.evaluate(() => (window.__testWallet.chainId = "0x1"));
  report.buy.wrong_network = await sendAndWait("Switch networks");
  // The switch is offered: the wallet is asked for the market's chain, and the page says to sign again.
  await page.click("[data-testid=switch-chain]");
  await page.waitForFunction(() => document.querySelector("[data-testid=tx-status]")?.textContent.includes("sign again"));
  report.buy.switched = {
    said: await status(),
    to: await page.evaluate(() => window.__testWallet.switchedTo),
    account: await page.textContent("[data-testid=account]"),
    offer_left: (await page.$("[data-testid=switch-chain]")) !== null,
  };
  await page.evaluate(() => (window.__testWallet.declineNext = true));
  report.buy.declined = await sendAndWait("declined");
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=tx-status][data-done]", { timeout: 60_000 });
  report.buy.done = await status();
  await page.screenshot({ path: join(artifacts, "bought.png"), fullPage: true });
  await view("#/portfolio", "portfolio.png");
  report.portfolio = await rows("[data-testid=positions] tbody tr");

  // Sign in (SIWE): the API's message signed with personal_sign (Anvil signs with the dev key),
  // declined once first; the token the API issued is read off the wire for the test to use.
  await page.evaluate(() => (window.__testWallet.declineNext = true));
  await page.click("[data-testid=sign-in]");
  await page.waitForFunction(() => !document.getElementById("notice").hidden);
  report.sign_in = { declined: await page.textContent("#notice") };
  const verified = page.waitForResponse((r) => r.url() === `${origin}/auth/verify`);
  await page.click("[data-testid=sign-in]");
  await page.waitForSelector("[data-testid=sign-in][data-address]");
  report.sign_in.shown = await page.textContent("[data-testid=sign-in]");
  report.sign_in.address = await page.getAttribute("[data-testid=sign-in]", "data-address");
  report.sign_in.token = (await (await verified).json()).token;
  report.sign_in.notice_hidden = await page.$eval("#notice", (n) => n.hidden);
  await page.screenshot({ path: join(artifacts, "signed-in.png") });

  // The buyer's page on the market while the renter below buys: its capacity's row follows, live.
  await view("#/", "market-live.png");
  const unsold = () => page.textContent(`tr[data-capacity="${id}"] td:nth-child(11)`);
  report.market_live = { before: Number(await unsold()) };

  // Allowance: a fresh account holding stablecoin but no allowance is offered the approval (built by
  // the API, shown, signed, followed to its receipt), then the fill. Anvil signs for it, impersonated.
  const fresh = "0x7e57000000000000000000000000000000000001";
  await rpc("anvil_setBalance", [fresh, "0xde0b6b3a7640000"]);
  await rpc("anvil_impersonateAccount", [fresh]);
  const stablecoin = (await (await fetch(`${url}/market`)).json()).stablecoin.address;
  const word = (v) => v.toString(16).padStart(64, "0");
  await rpc("eth_sendTransaction", [
    { from: fresh, to: stablecoin, data: `0x40c10f19${word(BigInt(fresh))}${word(1_000_000_000n)}` }, // mint(fresh, $1,000)
  ]);
  // Its console's errors apart: Chromium logs the API's expected 409 (the fill would revert) as one.
  const renterErrors = [];
  const renter = await walletPage(fresh, renterErrors);
  await renter.goto(`${url}/#/capacity/${id}`);
  await renter.waitForSelector("main[data-ready]");
  await renter.fill("[data-testid=buy-hours]", "1");
  await renter.click("[data-testid=buy-review]");
  await renter.waitForSelector("[data-testid=approve-review]");
  await renter.screenshot({ path: join(artifacts, "approve-review.png"), fullPage: true });
  report.allowance = { account: fresh, review: await renter.textContent("[data-testid=approve-review]") };
  await renter.click("[data-testid=approve-send]");
  await renter.waitForSelector("[data-testid=tx-review]", { timeout: 60_000 });
  report.allowance.fill_review = await renter.textContent("[data-testid=tx-review]");
  await renter.click("[data-testid=tx-send]");
  await renter.waitForSelector("[data-testid=tx-status][data-done]", { timeout: 60_000 });
  report.allowance.done = await renter.textContent("[data-testid=tx-status]");
  report.allowance.errors = renterErrors;
  await page.waitForFunction(
    ([cell, left]) => document.querySelector(cell)?.textContent.trim() === left,
    [`tr[data-capacity="${id}"] td:nth-child(11)`, String(report.market_live.before - 1)],
    { timeout: 5_000 },
  );
  report.market_live.after = Number(await unsold());

  // A permit instead of the approval: an account holding stablecoin but no allowance signs the EIP-2612
  // permit (typed data from the API) and the fill carries it: one transaction in all. A dev account
  // whose key Anvil holds (an oracle's, which sends nothing on chain in the demo): Anvil signs typed
  // data only for those, not for an impersonated address.
  const permitter = (await rpc("eth_accounts", []))[7];
  await rpc("eth_sendTransaction", [
    { from: permitter, to: stablecoin, data: `0x40c10f19${word(BigInt(permitter))}${word(1_000_000_000n)}` },
  ]);
  const nonceBefore = Number(await rpc("eth_getTransactionCount", [permitter, "latest"]));
  const permitErrors = [];
  const permitPage = await walletPage(permitter, permitErrors);
  await permitPage.goto(`${url}/#/capacity/${id}`);
  await permitPage.waitForSelector("main[data-ready]");
  await permitPage.fill("[data-testid=buy-hours]", "1");
  await permitPage.click("[data-testid=buy-review]");
  await permitPage.waitForSelector("[data-testid=permit-sign]");
  await permitPage.evaluate(() => (window.__testWallet.declineNext = true));
  await permitPage.click("[data-testid=permit-sign]");
  await permitPage.waitForSelector("[data-testid=tx-status].error");
  report.permit = { account: permitter, declined: await permitPage.textContent("[data-testid=tx-status]") };
  await permitPage.click("[data-testid=permit-sign]");
  await permitPage.waitForSelector("[data-testid=tx-review], [data-testid=tx-status].error", { timeout: 60_000 });
  if (!(await permitPage.$("[data-testid=tx-review]")))
    throw new Error(`the permit was not taken: ${await permitPage.textContent("[data-testid=tx-status]")}`);
  report.permit.approve_left = (await permitPage.$("[data-testid=approve-review]")) !== null;
  report.permit.fill_review = await permitPage.textContent("[data-testid=tx-review]");
  await permitPage.click("[data-testid=tx-send]");
  await permitPage.waitForSelector("[data-testid=tx-status][data-done]", { timeout: 60_000 });
  report.permit.done = await permitPage.textContent("[data-testid=tx-status]");
  report.permit.transactions = Number(await rpc("eth_getTransactionCount", [permitter, "latest"])) - nonceBefore;
  report.permit.errors = permitErrors;
  await permitPage.screenshot({ path: join(artifacts, "bought-with-permit.png"), fullPage: true });

  // The renter's hours, put to use from the portfolio: book some (activate), resell some (an order
  // signed in the wallet and posted with the sign-in's token), then cancel that order on chain.
  const actionStatus = () => page.textContent("[data-testid=action-status]");
  const actionFails = async () => {
    await page.waitForFunction(() => document.querySelector("[data-testid=action-status]")?.classList.contains("error"));
    return actionStatus();
  };
  const position = `[data-testid=positions] tr[data-capacity="${id}"]`;
  await view("#/portfolio", "portfolio-held.png");
  report.activate = { held_before: Number(await page.textContent(`${position} td:nth-child(3)`)) };
  await page.click(`${position} [data-testid=activate]`);
  await page.waitForSelector("[data-testid=activate-form]");
  await page.fill("[data-testid=activate-gpus]", "9"); // the node has 8
  await page.click("[data-testid=activate-review]");
  report.activate.bad = await actionFails();
  // The second hour offered: the first may begin on the chain while the test runs.
  const starts = await page.$$eval("[data-testid=activate-start] option", (os) => os.map((o) => o.value));
  report.activate.start = Number(starts[1]);
  await page.selectOption("[data-testid=activate-start]", starts[1]);
  await page.fill("[data-testid=activate-gpus]", "2");
  await page.fill("[data-testid=activate-hours]", "3");
  await page.click("[data-testid=activate-review]");
  await page.waitForSelector("[data-testid=tx-review]");
  await page.screenshot({ path: join(artifacts, "activate-review.png"), fullPage: true });
  report.activate.review = await page.textContent("[data-testid=tx-review]");
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.activate.done = await actionStatus();
  report.activate.bookings = await rows("[data-testid=bookings] tbody tr");
  report.activate.held_after = Number(await page.textContent(`${position} td:nth-child(3)`));
  await page.screenshot({ path: join(artifacts, "portfolio-booked.png"), fullPage: true });

  await page.click(`${position} [data-testid=resell]`);
  await page.waitForSelector("[data-testid=resell-form]");
  await page.fill("[data-testid=resell-amount]", String(report.activate.held_after + 1));
  await page.fill("[data-testid=resell-price]", "3.10");
  await page.click("[data-testid=resell-review]");
  report.resell = { bad: await actionFails() };
  await page.fill("[data-testid=resell-amount]", "4");
  await page.click("[data-testid=resell-review]");
  await page.waitForSelector("[data-testid=order-review]");
  await page.screenshot({ path: join(artifacts, "resell-review.png"), fullPage: true });
  report.resell.review = await page.textContent("[data-testid=order-review]");
  await page.evaluate(() => (window.__testWallet.chainId = "0x1"));
  await page.click("[data-testid=order-sign]");
  report.resell.wrong_network = await actionFails();
  await page.click("[data-testid=switch-chain]");
  await page.waitForFunction(() => document.querySelector("[data-testid=action-status]")?.textContent.includes("sign again"));
  report.resell.switched = await actionStatus();
  await page.evaluate(() => (window.__testWallet.declineNext = true));
  await page.click("[data-testid=order-sign]");
  await page.waitForFunction(() => document.querySelector("[data-testid=action-status]")?.textContent.includes("declined"));
  report.resell.declined = await actionStatus();
  const posting = page.waitForRequest((r) => r.url() === `${origin}/orders` && r.method() === "POST");
  await page.click("[data-testid=order-sign]");
  report.resell.authorization = (await posting).headers().authorization ?? null;
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.resell.done = await actionStatus();
  report.resell.order = await page.getAttribute("[data-testid=action-status]", "data-order");
  report.resell.open_orders = await rows("[data-testid=open-orders] tbody tr");
  await page.screenshot({ path: join(artifacts, "portfolio-resale.png"), fullPage: true });
  await view(`#/capacity/${id}`, "capacity-resale.png");
  const asks = () =>
    page.$$eval("table[data-testid=asks] tbody tr", (trs) =>
      trs.map((tr) => [tr.dataset.order, ...[...tr.querySelectorAll("td")].map((td) => td.textContent.trim())]),
    );
  report.resell.asks = await asks();

  await view("#/portfolio", "portfolio-cancel.png");
  await page.click(`[data-testid=open-orders] tr[data-order="${report.resell.order}"] [data-testid=cancel]`);
  await page.waitForSelector("[data-testid=tx-review]");
  await page.screenshot({ path: join(artifacts, "cancel-review.png"), fullPage: true });
  report.cancel = { review: await page.textContent("[data-testid=tx-review]") };
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.cancel.done = await actionStatus();
  report.cancel.open_orders = await page.$$eval("[data-testid=open-orders] tbody tr", (trs) => trs.map((tr) => tr.dataset.order));
  await page.screenshot({ path: join(artifacts, "portfolio-cancelled.png"), fullPage: true });
  await view(`#/capacity/${id}`, "capacity-cancelled.png");
  report.cancel.asks = await asks();

  // Insufficient balance: an account that let the exchange spend but holds no stablecoin is told so
  // plainly when it asks to buy, and nothing is built to sign.
  const poor = "0x7e57000000000000000000000000000000000002";
  await rpc("anvil_setBalance", [poor, "0xde0b6b3a7640000"]);
  await rpc("anvil_impersonateAccount", [poor]);
  const exchangeAddress = (await (await fetch(`${url}/market`)).json()).contracts.Exchange;
  await rpc("eth_sendTransaction", [
    { from: poor, to: stablecoin, data: `0x095ea7b3${word(BigInt(exchangeAddress))}${word(10n ** 12n)}` }, // approve
  ]);
  const poorErrors = [];
  const poorPage = await walletPage(poor, poorErrors);
  await poorPage.goto(`${url}/#/capacity/${id}`);
  await poorPage.waitForSelector("main[data-ready]");
  await poorPage.fill("[data-testid=buy-hours]", "1");
  await poorPage.click("[data-testid=buy-review]");
  await poorPage.waitForSelector("[data-testid=tx-status].error");
  report.poor = {
    said: await poorPage.textContent("[data-testid=tx-status]"),
    review_shown: (await poorPage.$("[data-testid=tx-review], [data-testid=approve-review]")) !== null,
    errors: poorErrors,
  };
  await poorPage.screenshot({ path: join(artifacts, "buy-no-balance.png"), fullPage: true });

  // An order filled meanwhile: a second resale, of one GPU-hour, taken in full from outside the page
  // (renter-1, Anvil signing) while the portfolio still lists it: cancelling it is refused plainly.
  await view("#/portfolio", "portfolio-second-resale.png");
  await page.click(`${position} [data-testid=resell]`);
  await page.fill("[data-testid=resell-amount]", "1");
  await page.fill("[data-testid=resell-price]", "3.20");
  await page.click("[data-testid=resell-review]");
  await page.click("[data-testid=order-sign]");
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  const second = await page.getAttribute("[data-testid=action-status]", "data-order");
  const taker = (await rpc("eth_accounts", []))[3];
  const fill = await (
    await fetch(`${url}/tx/fill`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ taker, order_hash: second, amount: 1 }),
    })
  ).json();
  const filled = await rpc("eth_sendTransaction", [
    { from: fill.from, to: fill.to, data: fill.data, gas: `0x${BigInt(fill.gas).toString(16)}` },
  ]);
  while (!(await rpc("eth_getTransactionReceipt", [filled]))) await new Promise((r) => setTimeout(r, 50));
  while ((await (await fetch(`${url}/orders/${second}`)).json()).state !== "filled")
    await new Promise((r) => setTimeout(r, 100));
  report.filled = { order: second, listed: (await page.$(`[data-testid=open-orders] tr[data-order="${second}"]`)) !== null };
  await page.click(`[data-testid=open-orders] tr[data-order="${second}"] [data-testid=cancel]`);
  report.filled.said = await actionFails();
  report.filled.review_shown = (await page.$("[data-testid=tx-review]")) !== null;
  await page.waitForFunction((h) => !document.querySelector(`[data-testid=open-orders] tr[data-order="${h}"]`), second);
  await page.screenshot({ path: join(artifacts, "cancel-filled.png"), fullPage: true });

  // Claim: what escrow credited the renter (the refund of its settled booking's failed hours).
  await view("#/portfolio", "portfolio-claim.png");
  report.claim = { before: await page.textContent("[data-testid=claimable]") };
  await page.click("[data-testid=claim]");
  await page.waitForSelector("[data-testid=tx-review]");
  await page.screenshot({ path: join(artifacts, "claim-review.png"), fullPage: true });
  report.claim.review = await page.textContent("[data-testid=tx-review]");
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.claim.done = await actionStatus();
  report.claim.after = await page.textContent("[data-testid=claimable]");
  report.claim.button_left = (await page.$("[data-testid=claim]")) !== null;
  await page.screenshot({ path: join(artifacts, "portfolio-claimed.png"), fullPage: true });

  // A bid from the capacity's page: signed, posted, in the book's bids.
  const bookRows = (side) =>
    page.$$eval(`table[data-testid=${side}] tbody tr`, (trs) =>
      trs.map((tr) => [tr.dataset.order, ...[...tr.querySelectorAll("td")].map((td) => td.textContent.trim())]),
    );
  await view(`#/capacity/${id}`, "capacity-bid.png");
  report.bid = { kinds: await page.$$eval("[data-testid=post-kind] option", (os) => os.map((o) => o.value)) };
  await page.fill("[data-testid=post-amount]", "3");
  await page.fill("[data-testid=post-price]", "1.95");
  await page.click("[data-testid=post-review]");
  await page.waitForSelector("[data-testid=order-review]");
  report.bid.review = await page.textContent("[data-testid=order-review]");
  await page.click("[data-testid=order-sign]");
  await page.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.bid.done = await actionStatus();
  report.bid.order = await page.getAttribute("[data-testid=action-status]", "data-order");
  report.bid.bids = await bookRows("bids");
  await page.screenshot({ path: join(artifacts, "capacity-bid-posted.png"), fullPage: true });

  // A provider lists hours: provider-1's own wallet, connected, on its capacity's page.
  const providerAddress = (await rpc("eth_accounts", []))[1];
  const provider = await walletPage(providerAddress);
  await provider.goto(`${url}/`);
  await provider.waitForSelector("main[data-ready]");
  await provider.click("[data-testid=account]");
  await provider.waitForSelector("[data-testid=account][data-address]:not([data-address=''])");
  await provider.evaluate((h) => {
    delete document.getElementById("app").dataset.ready;
    location.hash = h;
  }, `#/capacity/${id}`);
  await provider.waitForSelector("main[data-ready]");
  report.listing = {
    provider: providerAddress,
    kinds: await provider.$$eval("[data-testid=post-kind] option", (os) => os.map((o) => o.value)),
  };
  await provider.selectOption("[data-testid=post-kind]", "primary_sell");
  await provider.fill("[data-testid=post-amount]", "8");
  await provider.fill("[data-testid=post-price]", "2.30");
  await provider.click("[data-testid=post-review]");
  await provider.waitForSelector("[data-testid=order-review]");
  await provider.screenshot({ path: join(artifacts, "listing-review.png"), fullPage: true });
  report.listing.review = await provider.textContent("[data-testid=order-review]");
  await provider.click("[data-testid=order-sign]");
  await provider.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
  report.listing.done = await provider.textContent("[data-testid=action-status]");
  report.listing.order = await provider.getAttribute("[data-testid=action-status]", "data-order");
  report.listing.asks = await provider.$$eval("table[data-testid=asks] tbody tr", (trs) =>
    trs.map((tr) => [tr.dataset.order, ...[...tr.querySelectorAll("td")].map((td) => td.textContent.trim())]),
  );
  await provider.screenshot({ path: join(artifacts, "capacity-listed.png"), fullPage: true });

  // A purchase across the asks, cheapest first: all the best ask has left and two hours of the
  // provider's new listing, in one Exchange.fillBatch built by the API.
  await view(`#/capacity/${id}`, "capacity-before-batch.png");
  const bestLeft = Number(await page.textContent("table[data-testid=asks] tbody tr td:nth-child(2)"));
  report.batch = { best_left: bestLeft, asks_before: await bookRows("asks") };
  await page.selectOption("[data-testid=buy-order]", "across");
  await page.fill("[data-testid=buy-hours]", String(bestLeft + 2));
  await page.click("[data-testid=buy-review]");
  await page.waitForSelector("[data-testid=tx-review]");
  await page.screenshot({ path: join(artifacts, "batch-review.png"), fullPage: true });
  report.batch.review = await page.textContent("[data-testid=tx-review]");
  report.batch.data = await page.getAttribute("[data-testid=tx-review] dd.data", "title");
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=tx-status][data-done]", { timeout: 60_000 });
  report.batch.done = await page.textContent("[data-testid=tx-status]");

  {
    // Lending, on the H100 pool: renter-3 supplies; the renter pledges hours it holds, borrows, sees
    // its health factor, asks for a borrow past its limit and is told plainly, repays all; the lender
    // withdraws. Each transaction built by POST /tx/pools/*, an approval first where the API says so.
    const lenderAddress = (await rpc("eth_accounts", []))[5];
    // Their pages' console errors apart: a wallet with no position reads a 404, a refused borrow a 422.
    report.lending_errors = [];
    const lender = await walletPage(lenderAddress, report.lending_errors);
    const opened = async (p, shot) => {
      await p.evaluate(() => {
        delete document.getElementById("app").dataset.ready;
        if (location.hash === "#/lending") window.dispatchEvent(new HashChangeEvent("hashchange"));
        else location.hash = "#/lending";
      });
      await p.waitForSelector("main[data-ready]");
      if (shot) await p.screenshot({ path: join(artifacts, shot), fullPage: true });
    };
    const H100 = "section[data-pool='H100-SXM5-80GB']";
    const facts = (p, testid) =>
      p.$eval(`${H100} [data-testid=${testid}]`, (dl) =>
        dl.tagName === "DL"
          ? Object.fromEntries([...dl.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))
          : { text: dl.textContent },
      );
    // Signs what the review shows; through the approval first when the API asked for one.
    const signThrough = async (p) => {
      await p.click("[data-testid=tx-review] [data-testid=tx-send]");
      await p.waitForSelector("[data-testid=action-status][data-done], [data-testid=approval-status][data-done]", { timeout: 60_000 });
      const approved = await p.$("[data-testid=approval-status][data-done]");
      if (approved && !(await p.$("[data-testid=action-status][data-done]"))) {
        await p.click("[data-testid=tx-review] [data-testid=tx-send]");
        await p.waitForSelector("[data-testid=action-status][data-done]", { timeout: 60_000 });
      }
      return { approved: Boolean(approved), done: await p.textContent("[data-testid=action-status]") };
    };
    const lendStatus = (p) => p.textContent("[data-testid=action-status]");
    await lender.goto(`${url}/`);
    await lender.waitForSelector("main[data-ready]");
    await lender.click("[data-testid=account]");
    await lender.waitForSelector("[data-testid=account][data-address]:not([data-address=''])");
    await opened(lender, "lending.png");
    report.lending = { lender: lenderAddress, pools: await lender.$$eval("section.pool", (ss) => ss.map((s) => s.dataset.pool)), before: await facts(lender, "pool-facts") };
    await lender.click(`${H100} [data-testid=supply]`);
    await lender.fill("[data-testid=supply-amount]", "lots");
    await lender.click("[data-testid=supply-review]");
    report.lending.bad_supply = await lendStatus(lender);
    await lender.fill("[data-testid=supply-amount]", "1000");
    await lender.click("[data-testid=supply-review]");
    await lender.waitForSelector("[data-testid=tx-review]");
    report.lending.supply_review = await lender.textContent("[data-testid=tx-review]");
    // On another chain first: the switch is offered, then the approval goes through.
    await lender.evaluate(() => (window.__testWallet.chainId = "0x1"));
    await lender.click("[data-testid=tx-review] [data-testid=tx-send]");
    await lender.waitForSelector("[data-testid=switch-chain]");
    report.lending.wrong_chain = await lender.textContent("[data-testid=approval-status]");
    await lender.click("[data-testid=switch-chain]");
    await lender.waitForSelector("[data-testid=switch-chain]", { state: "detached" });
    report.lending.supply = await signThrough(lender);
    report.lending.supplied = { pool: await facts(lender, "pool-facts"), deposit: await facts(lender, "my-deposit") };
    await lender.screenshot({ path: join(artifacts, "lending-supplied.png"), fullPage: true });

    // The renter: pledge held hours of capacity `id`, borrow, a borrow too far, repay.
    const renter = await walletPage(buyer, report.lending_errors);
    await renter.goto(`${url}/`);
    await renter.waitForSelector("main[data-ready]");
    await renter.click("[data-testid=account]");
    await renter.waitForSelector("[data-testid=account][data-address]:not([data-address=''])");
    await opened(renter, "lending-renter.png");
    const heldBefore = await renter.$$eval(`${H100} [data-testid^=pledge-]`, (bs) => bs.map((b) => b.dataset.testid));
    report.lending.pledge_buttons = heldBefore;
    await renter.click(`${H100} [data-testid=pledge-${id}]`);
    const heldNow = Number(await renter.inputValue("[data-testid=pledge-amount]"));
    report.lending.held = heldNow;
    await renter.fill("[data-testid=pledge-amount]", String(heldNow + 1));
    await renter.click("[data-testid=pledge-review]");
    report.lending.too_many = await lendStatus(renter);
    await renter.fill("[data-testid=pledge-amount]", String(heldNow)); // all it holds: about $16 to borrow against
    await renter.click("[data-testid=pledge-review]");
    await renter.waitForSelector("[data-testid=tx-review]");
    report.lending.pledge_review = await renter.textContent("[data-testid=tx-review]");
    report.lending.pledge = await signThrough(renter);
    report.lending.pledged = await facts(renter, "my-position");
    await renter.click(`${H100} [data-testid=borrow]`);
    await renter.fill("[data-testid=borrow-amount]", "10");
    await renter.click("[data-testid=borrow-review]");
    await renter.waitForSelector("[data-testid=tx-review]");
    report.lending.borrow_review = await renter.textContent("[data-testid=tx-review]");
    await renter.evaluate(() => (window.__testWallet.declineNext = true));
    await renter.click("[data-testid=tx-review] [data-testid=tx-send]");
    await renter.waitForSelector("[data-testid=action-status].error");
    report.lending.declined = await lendStatus(renter);
    report.lending.borrow = await signThrough(renter);
    report.lending.borrowed = await facts(renter, "my-position");
    await renter.screenshot({ path: join(artifacts, "lending-borrowed.png"), fullPage: true });
    await renter.click(`${H100} [data-testid=borrow]`);
    await renter.fill("[data-testid=borrow-amount]", "900");
    await renter.click("[data-testid=borrow-review]");
    await renter.waitForSelector("[data-testid=action-status].error");
    report.lending.unhealthy = await lendStatus(renter);
    report.lending.unhealthy_review = await renter.$$eval("[data-testid=tx-review]", (rs) => rs.length);
    await renter.screenshot({ path: join(artifacts, "lending-unhealthy.png"), fullPage: true });
    await renter.click(`${H100} [data-testid=repay]`);
    await renter.click("[data-testid=repay-review]");
    await renter.waitForSelector("[data-testid=tx-review]");
    report.lending.repay_review = await renter.textContent("[data-testid=tx-review]");
    report.lending.repay = await signThrough(renter);
    report.lending.repaid = await facts(renter, "my-position");

    // The lender takes its deposit back: all it can withdraw now.
    await opened(lender);
    await lender.click(`${H100} [data-testid=withdraw]`);
    report.lending.withdraw_amount = await lender.inputValue("[data-testid=withdraw-amount]");
    await lender.click("[data-testid=withdraw-review]");
    await lender.waitForSelector("[data-testid=tx-review]");
    report.lending.withdraw = await signThrough(lender);
    report.lending.withdrawn = { pool: await facts(lender, "pool-facts"), deposit: await facts(lender, "my-deposit") };
    await lender.screenshot({ path: join(artifacts, "lending-withdrawn.png"), fullPage: true });
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
