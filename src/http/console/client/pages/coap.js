/**
 * CoAP: the listener's UDP address and its live Observe registrations
 * (RFC 7641), one row each (client, resource, stream topic, token, Observe
 * sequence, notifications, last one, CON outstanding), from
 * /v1/coap/observers; while CoAP is off the page shows the
 * API's message saying how to turn it on.
 */
import { get } from "../api.js";
import { count, h, kv, poll, showBridgeOff, table, time } from "../dom.js";

const POLL_MS = 3000;

export async function render(main) {
  main.append(h("h1", null, "CoAP observers"));
  let first;
  try {
    first = await get("/v1/coap/observers");
  } catch (err) {
    if (showBridgeOff(main, err)) return;
    throw err;
  }
  const errorBox = h("div");
  const box = h("div", { "data-testid": "coap" });
  const list = h("div");
  const draw = (v) => {
    box.replaceChildren(
      kv([
        ["Listener (UDP)", h("code", null, v.address)],
        ["Live observations", h("strong", { "data-testid": "coap-observers" }, count(v.observers))],
      ]),
    );
    const rows = (v.observations ?? []).map((o) => [
      h("code", null, o.source),
      h("code", null, o.path),
      o.topic,
      h("code", null, o.tokenHex || "(empty)"),
      count(o.seq),
      count(o.notifications),
      o.lastNotifiedAt === null ? "–" : time(o.lastNotifiedAt),
      o.conOutstanding ? "yes" : "no",
    ]);
    const shown = rows.length < v.observers ? `The first ${count(rows.length)} are listed.` : null;
    list.replaceChildren(
      table(
        [
          "Client",
          "Resource",
          "Stream topic",
          "Token",
          "#Observe seq",
          "#Notifications",
          "Last notification",
          "CON outstanding",
        ],
        rows,
        { testid: "coap-observations", empty: "No client observes a resource." },
      ),
      shown ? h("p", { class: "muted" }, shown) : "",
    );
  };
  draw(first);
  main.append(
    errorBox,
    h(
      "div",
      { class: "panel" },
      h("h2", null, "Observe"),
      box,
      list,
      h(
        "p",
        { class: "muted" },
        "A CoAP client that GETs a topic resource with the Observe option receives every new record " +
          "as a notification until it cancels or stops answering confirmable notifications.",
      ),
    ),
  );
  return poll(async () => draw(await get("/v1/coap/observers")), POLL_MS, errorBox);
}
