// The market page's load in headless Chromium (Debian's, as the browser tests use), for
// scripts/bench_web.py: each run a fresh browser context (nothing cached), the page opened at `/`.
//   node tests/web/pageload.mjs URL RUNS
// Per run, from the navigation's start: `interactive`, when the market view has drawn its rows with
// its form and links bound (the page sets main[data-ready] then: what a reader can use), and `lcp`,
// the Largest Contentful Paint the browser reports. One JSON object on stdout.
import { chromium } from "playwright-core";

const [url, runs = "20"] = process.argv.slice(2);
const executablePath = process.env.GPUHOURS_CHROMIUM ?? "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const samples = [];
try {
  for (let i = 0; i < Number(runs); i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__lcp = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__lcp = e.startTime;
      }).observe({ type: "largest-contentful-paint", buffered: true });
      new MutationObserver((_, observer) => {
        if (document.getElementById("app")?.dataset.ready !== undefined) {
          window.__ready = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
    });
    await page.goto(`${url}/`);
    await page.waitForSelector("main[data-ready]");
    // LCP settles on the next frames after the last large paint: two animation frames, then read.
    const seen = await page.evaluate(
      () =>
        new Promise((resolve) =>
          requestAnimationFrame(() =>
            requestAnimationFrame(() =>
              resolve({
                interactive: window.__ready,
                lcp: window.__lcp,
                rows: document.querySelectorAll("[data-testid=capacities] tbody tr").length,
                status: document.querySelector("[data-testid=market-status]")?.textContent ?? "",
              }),
            ),
          ),
        ),
    );
    samples.push(seen);
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ samples, chromium: browser.version() }));
