/**
 * The console shell: hash router, sidebar highlighting, the health badge.
 * Each page module exports `render(main, route)`, which may return a
 * cleanup function (stop polling) that runs when the page is left.
 */
import { authorization, get, setAuthorization } from "./api.js";
import { currentRoute, errorText, h, notice } from "./dom.js";
import { renderLogin } from "./login.js";
import * as coap from "./pages/coap.js";
import * as groups from "./pages/groups.js";
import * as mirror from "./pages/mirror.js";
import * as mqtt from "./pages/mqtt.js";
import * as overview from "./pages/overview.js";
import * as peers from "./pages/peers.js";
import * as records from "./pages/records.js";
import * as topics from "./pages/topics.js";

const PAGES = {
  overview,
  topics,
  records,
  groups,
  mqtt,
  coap,
  mirror,
  peers,
};

const main = document.getElementById("page");
let cleanup = null;
let generation = 0;

let loginShown = false;

async function show() {
  loginShown = false;
  const route = currentRoute();
  const name = route.path[0] ?? "overview";
  const page = PAGES[name];
  for (const a of document.querySelectorAll(".sidebar a[data-page]")) {
    a.classList.toggle("active", a.dataset.page === name);
  }
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  const mine = ++generation;
  main.replaceChildren();
  if (!page) {
    main.append(h("h1", null, "Not found"), notice("error", `There is no console page "${name}".`));
    return;
  }
  try {
    const done = await page.render(main, route, () => mine !== generation);
    if (mine === generation) cleanup = done ?? null;
    else if (typeof done === "function") done();
  } catch (err) {
    if (mine === generation) main.append(notice("error", errorText(err)));
  }
}

async function refreshHealth() {
  const badge = document.getElementById("health-badge");
  const who = document.getElementById("broker-id");
  try {
    const health = await get("/health");
    badge.textContent = health.status === "ok" ? "healthy" : health.ready ? "degraded" : "not ready";
    badge.className = `badge ${health.status === "ok" ? "ok" : "warn"}`;
    who.textContent = `node ${health.nodeId} · ${health.version}`;
  } catch {
    badge.textContent = "unreachable";
    badge.className = "badge bad";
  }
}

/** The API said 401: stop the page and ask for credentials; afterwards show the page asked for. */
function showLogin() {
  if (loginShown) return;
  loginShown = true;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  generation++;
  renderLogin(main, show);
}

function updateLogout() {
  document.getElementById("logout").hidden = authorization() === null;
}

document.getElementById("logout").addEventListener("click", () => {
  setAuthorization(null);
  showLogin();
});

window.addEventListener("eddy:login-required", showLogin);
window.addEventListener("eddy:auth-changed", updateLogout);
updateLogout();
window.addEventListener("hashchange", show);
refreshHealth();
setInterval(refreshHealth, 10_000);
show();
