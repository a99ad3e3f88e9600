/**
 * Tiny DOM helpers: build elements without innerHTML (text always goes
 * through textContent, so record contents can never inject markup).
 */

/**
 * h("a", { href: "#/x", class: "y", onclick: fn }, "text", child, [more]).
 * Attributes starting with "on" become event listeners; null/false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" && "value" in el) el.value = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table from column headers and rows of cells; a header starting with "#" is numeric (right-aligned). */
export function table(headers, rows, opts = {}) {
  const cls = (head) => (head.startsWith("#") ? "num" : null);
  const names = headers.map((head) => (head.startsWith("#") ? head.slice(1) : head));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "data-testid": opts.testid },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          names.map((n, i) => h("th", { class: cls(headers[i]) }, n)),
        ),
      ),
      h(
        "tbody",
        null,
        rows.length === 0
          ? h(
              "tr",
              null,
              h("td", { colspan: headers.length, class: "muted" }, opts.empty ?? "Nothing here yet."),
            )
          : rows.map((cells) =>
              h(
                "tr",
                null,
                cells.map((c, i) => h("td", { class: cls(headers[i] ?? "") }, c)),
              ),
            ),
      ),
    ),
  );
}

/** A definition list from [label, value] pairs. */
export function kv(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
  );
}

export function notice(kind, text) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** "Error CODE: message" for an ApiError, else the error's message. */
export function errorText(err) {
  if (err && typeof err === "object" && "code" in err) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Read a form's fields as an object of strings (checkboxes as booleans). */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
export function bytes(n) {
  if (!Number.isFinite(n)) return "–";
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[u]}`;
}

export function count(n) {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "–";
}

export function duration(ms) {
  if (ms < 0) return "forever";
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(1)} s`;
  if (s < 3600) return `${+(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${+(s / 3600).toFixed(1)} h`;
  return `${+(s / 86400).toFixed(1)} d`;
}

export function time(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

/** Current hash route: { path: ["topics", "name"], query: URLSearchParams }. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const path = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { path, query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

/** "#/records?topic=a&partition=0" from a path and query object (undefined values dropped). */
export function routeHref(path, query = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  const s = qs.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${s ? `?${s}` : ""}`;
}

/**
 * The page for a bridge that is off: its route answered 404 with a message
 * saying how to turn it on. True when `err` was that 404 (and the notice was added).
 */
export function showBridgeOff(main, err) {
  if (!(err && typeof err === "object" && err.status === 404)) return false;
  main.append(h("div", { class: "notice info", role: "status", "data-testid": "bridge-off" }, err.message));
  return true;
}

/**
 * Call `fn` every `ms` (the first time `ms` from now) until the returned stop function runs;
 * a failing call shows its error in `errorBox` and polling goes on.
 */
export function poll(fn, ms, errorBox) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      await fn(() => stopped);
      if (!stopped) errorBox?.replaceChildren();
    } catch (err) {
      if (!stopped) errorBox?.replaceChildren(notice("error", errorText(err)));
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
