// The page's entry: a hash router over its views (market, capacity, prices, portfolio, lending), so the API serves one static file for all of them.
import "./style.css";
import { capacityView } from "./capacity";
import { api } from "./api";
import { h, shortAddress } from "./dom";
import { lendingView } from "./lend";
import { marketView } from "./market";
import { portfolioView } from "./portfolio";
import { pricesView } from "./prices";
import { setStablecoinDecimals } from "./money";
import * as wallet from "./wallet";
import * as live from "./live";
import * as auth from "./auth";

const root = document.getElementById("app") as HTMLElement;
// How amounts are written, from the API; an API without `GET /market` uses the documented 6 decimals.
const units = api
  .market()
  .then((m) => setStablecoinDecimals(m.stablecoin.decimals))
  .catch(() => undefined);

async function route(): Promise<void> {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  for (const link of document.querySelectorAll<HTMLAnchorElement>("header nav a"))
    link.toggleAttribute("aria-current", link.dataset.view === (path.split("/")[1] || "market"));
  const capacity = /^\/capacity\/(\d+)$/.exec(path);
  await units;
  live.listen(null); // the view below listens again once drawn
  try {
    if (capacity) await capacityView(root, Number(capacity[1]));
    else if (path === "/prices") await pricesView(root);
    else if (path === "/portfolio") await portfolioView(root);
    else if (path === "/lending") await lendingView(root);
    else await marketView(root, params);
  } catch (error) {
    root.replaceChildren(h("p", { class: "error", role: "status" }, `The API could not be read: ${(error as Error).message}`));
  }
  root.dataset.ready = "true"; // for the end-to-end test: the view has rendered
}

const account = document.getElementById("account") as HTMLButtonElement;
const notice = document.getElementById("notice") as HTMLElement;
account.addEventListener("click", () => {
  account.textContent = "Connecting…";
  notice.hidden = true;
  wallet.connect().catch((error: Error) => {
    account.textContent = "Connect wallet";
    notice.textContent = error.message;
    notice.hidden = false;
  });
});
const signIn = document.getElementById("sign-in") as HTMLButtonElement;
wallet.onChange((c) => {
  account.textContent = c ? `${shortAddress(c.address)} · chain ${c.chainId}` : "Connect wallet";
  account.dataset.address = c?.address ?? "";
  const s = auth.current();
  signIn.hidden = !c;
  if (!s || s.address.toLowerCase() !== c?.address.toLowerCase()) {
    signIn.textContent = "Sign in";
    delete signIn.dataset.address;
  }
});
signIn.addEventListener("click", () => {
  if (auth.current()) return;
  signIn.textContent = "Signing in…";
  notice.hidden = true;
  auth
    .signIn()
    .then((s) => {
      signIn.textContent = `Signed in as ${shortAddress(s.address)}`;
      signIn.title = s.address;
      signIn.dataset.address = s.address;
    })
    .catch((error: Error) => {
      signIn.textContent = "Sign in";
      notice.textContent = wallet.explain(error, "the sign-in").message;
      notice.hidden = false;
    });
});

live.start(document.getElementById("live") as HTMLElement);

window.addEventListener("hashchange", () => {
  delete root.dataset.ready;
  void route();
});
void route();
