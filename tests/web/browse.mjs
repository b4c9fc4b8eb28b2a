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
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000);
  const origin = new URL(url).origin;
  page.on("pageerror", (e) => report.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && report.errors.push(m.text()));
  page.on("request", (r) => !r.url().startsWith(origin) && !r.url().startsWith("data:") && report.foreign_requests.push(r.url()));
  page.on("requestfailed", (r) => report.failed_requests.push(`${r.url()}: ${r.failure()?.errorText}`));

  // The test wallet: accounts from the test, everything else to Anvil from Node (no CORS in the way).
  let rpcId = 0;
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
        if (wallet.declineNext && method === "eth_sendTransaction") {
          wallet.declineNext = false;
          throw Object.assign(new Error("User rejected the request."), { code: 4001 });
        }
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
        if (method === "eth_chainId" && wallet.chainId) return wallet.chainId;
        const answer = await window.__anvil(method, params);
        if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error);
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  }, buyer);

  const view = async (hash, shot) => {
    await page.evaluate((h) => {
      delete document.getElementById("app").dataset.ready;
      location.hash = h;
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
  await page.evaluate(() => Object.assign(window.__testWallet, { chainId: null, declineNext: true }));
  report.buy.declined = await sendAndWait("declined");
  await page.click("[data-testid=tx-send]");
  await page.waitForSelector("[data-testid=tx-status][data-done]", { timeout: 60_000 });
  report.buy.done = await status();
  await page.screenshot({ path: join(artifacts, "bought.png"), fullPage: true });
  await view("#/portfolio", "portfolio.png");
  report.portfolio = await rows("[data-testid=positions] tbody tr");
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
