/**
 * MQTT: connected clients (protocol version, keep-alive, subscriptions) with a
 * "disconnect" action, sessions with their backlog, and a live mapping dry-run
 * (type an MQTT topic: which stream topic, key and partition a PUBLISH lands
 * in, and who would receive it). All from /v1/mqtt/...; while the bridge is
 * off the page shows the API's message saying how to turn it on. Beside the
 * dry-run: the active mapping rules (GET /v1/mapping).
 */
import { api, get, seg } from "../api.js";
import {
  count,
  duration,
  errorText,
  h,
  kv,
  notice,
  poll,
  routeHref,
  showBridgeOff,
  table,
  time,
} from "../dom.js";

const POLL_MS = 3000;
const VERSIONS = { 3: "3.1", 4: "3.1.1", 5: "5.0" };
const NEVER = 4294967295;
const RETAINED_TOPIC = "__mqtt_retained";

export async function render(main) {
  main.append(h("h1", null, "MQTT clients"));
  let first;
  let mapping;
  try {
    [first, mapping] = await Promise.all([load(), get("/v1/mapping")]);
  } catch (err) {
    if (showBridgeOff(main, err)) return;
    throw err;
  }
  const errorBox = h("div");
  const actionBox = h("div", { "data-testid": "mqtt-action" });
  const clientsBox = h("div");
  const sessionsBox = h("div");
  const refresh = async () => draw(await load());
  const draw = ({ clients, sessions }) => {
    clientsBox.replaceChildren(clientsTable(clients, sessions, disconnect));
    sessionsBox.replaceChildren(sessionsTable(sessions));
  };
  async function disconnect(clientId, button) {
    button.disabled = true;
    try {
      await api("DELETE", `/v1/mqtt/clients/${seg(clientId)}`);
      actionBox.replaceChildren(
        notice("ok", `Disconnected ${clientId}. Its persistent session (if any) stays.`),
      );
    } catch (err) {
      actionBox.replaceChildren(notice("error", errorText(err)));
    }
    await refresh().catch((err) => errorBox.replaceChildren(notice("error", errorText(err))));
  }
  draw(first);
  main.append(
    errorBox,
    h("div", { class: "panel" }, h("h2", null, "Connected clients"), actionBox, clientsBox),
    h("div", { class: "panel" }, h("h2", null, "Sessions"), sessionsBox),
    mappingPanel(mapping),
    dryRunPanel(),
    h(
      "p",
      { class: "muted" },
      "Retained messages are kept in the compacted topic ",
      h("a", { href: routeHref(["records"], { topic: RETAINED_TOPIC, from: "earliest" }) }, RETAINED_TOPIC),
      " (key: the MQTT topic).",
    ),
  );
  return poll(refresh, POLL_MS, errorBox);
}

async function load() {
  const [{ clients }, { sessions }] = await Promise.all([get("/v1/mqtt/clients"), get("/v1/mqtt/sessions")]);
  return { clients, sessions };
}

function clientsTable(clients, sessions, disconnect) {
  const filters = new Map(sessions.map((s) => [s.clientId, s.subscriptions]));
  return table(
    [
      "Client ID",
      "MQTT",
      "Address",
      "User",
      "#Keep-alive",
      "Subscriptions",
      "#In flight",
      "#Queued bytes",
      "",
    ],
    clients
      .sort((a, b) => a.clientId.localeCompare(b.clientId))
      .map((c) => {
        const subs = filters.get(c.clientId);
        const button = h("button", { class: "small", type: "button" }, "Disconnect");
        button.addEventListener("click", () => disconnect(c.clientId, button));
        return [
          c.clientId,
          VERSIONS[c.protocolVersion] ?? String(c.protocolVersion),
          c.remoteAddress,
          c.user ?? "–",
          c.keepAlive === 0 ? "off" : `${c.keepAlive} s`,
          subs?.length ? subscriptionList(subs) : count(c.subscriptions),
          count(c.inflight),
          count(c.queuedBytes),
          button,
        ];
      }),
    { testid: "mqtt-clients", empty: "No MQTT client is connected." },
  );
}

function sessionsTable(sessions) {
  return table(
    ["Client ID", "Connected", "Expires", "Subscriptions", "#In flight", "#Backlog", "Disconnected at"],
    sessions
      .sort((a, b) => a.clientId.localeCompare(b.clientId))
      .map((s) => [
        s.clientId,
        s.connected
          ? h("span", { class: "badge ok" }, "connected")
          : h("span", { class: "badge" }, "offline"),
        expiry(s.expiryInterval),
        s.subscriptions.length ? subscriptionList(s.subscriptions) : "–",
        count(s.inflight),
        count(s.backlog),
        s.disconnectedAt === null ? "–" : time(s.disconnectedAt),
      ]),
    { testid: "mqtt-sessions", empty: "No MQTT session." },
  );
}

function expiry(seconds) {
  if (seconds === NEVER) return "never";
  if (seconds === 0) return "with the connection";
  return `${duration(seconds * 1000)} after disconnect`;
}

function subscriptionList(subs) {
  return h(
    "ul",
    { class: "headers" },
    subs.map((s) => h("li", null, h("code", null, s.filter), ` QoS ${s.qos}`)),
  );
}

/** The active mapping: forward rules in order, reverse rules, the default topic. */
function mappingPanel(m) {
  const topicLink = (t) => h("a", { href: routeHref(["topics", t]) }, t);
  return h(
    "div",
    { class: "panel", "data-testid": "mapping" },
    h("h2", null, "Mapping rules"),
    h(
      "p",
      { class: "muted" },
      "Shared by MQTT and CoAP ([mqtt] rules, reverse and default_topic in eddy.toml). The first rule whose filter matches takes a PUBLISH.",
    ),
    table(
      ["#", "Filter", "Stream topic", "Key"],
      m.rules.map((r, i) => [
        String(i + 1),
        h("code", null, r.filter),
        topicLink(r.topic),
        r.key === "" ? "(none)" : h("code", null, r.key),
      ]),
      { testid: "mapping-rules", empty: "No forward rules: every topic goes to the default topic." },
    ),
    h(
      "p",
      { "data-testid": "mapping-default" },
      m.defaultTopic === null
        ? h("span", { class: "badge warn" }, "Unmatched topics are refused (default_topic is off).")
        : ["Unmatched topics go to ", topicLink(m.defaultTopic), ", keyed by the MQTT topic."],
    ),
    h("h2", { class: "sub" }, "Reverse rules"),
    table(
      ["Stream topic", "Delivered as", "#QoS"],
      m.reverse.map((r) => [topicLink(r.topic), h("code", null, r.mqttTopic), String(r.qos)]),
      {
        testid: "mapping-reverse",
        empty:
          "No reverse rules: records without an mqtt.topic header are delivered only from the default topic.",
      },
    ),
  );
}

/** Type an MQTT topic; after a short pause the API's explanation replaces the previous one. */
function dryRunPanel() {
  const result = h("div", { "data-testid": "explain-result" });
  const input = h("input", { name: "topic", placeholder: "e.g. sensors/dev-1/temp", autocomplete: "off" });
  const form = h(
    "form",
    { class: "inline dry-run", "data-testid": "explain" },
    h("label", null, "MQTT topic", input),
    h("button", { class: "primary", type: "submit" }, "Explain"),
  );
  let seq = 0;
  let timer = null;
  const run = async () => {
    clearTimeout(timer);
    const topic = input.value;
    const mine = ++seq;
    if (topic === "") {
      result.replaceChildren();
      return;
    }
    try {
      const e = await get(`/v1/mqtt/explain?topic=${encodeURIComponent(topic)}`);
      if (mine === seq) result.replaceChildren(...explanation(e));
    } catch (err) {
      if (mine === seq) result.replaceChildren(notice("error", errorText(err)));
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  return h(
    "div",
    { class: "panel" },
    h("h2", null, "Mapping dry-run"),
    h(
      "p",
      { class: "muted" },
      "Where a PUBLISH to this MQTT topic would be stored, and which sessions would receive it. Nothing is published.",
    ),
    form,
    result,
  );
}

function explanation(e) {
  const out = [];
  if (e.stored) {
    const { streamTopic, key, partition } = e.stored;
    out.push(
      notice("ok", `Stored in topic ${streamTopic}${partition >= 0 ? `, partition ${partition}` : ""}.`),
      kv([
        ["Stream topic", h("a", { href: routeHref(["topics", streamTopic]) }, streamTopic)],
        ["Key", key === null ? "(none)" : h("code", null, key)],
        [
          "Partition",
          partition >= 0
            ? h(
                "a",
                { href: routeHref(["records"], { topic: streamTopic, partition, from: "latest" }) },
                String(partition),
              )
            : "chosen per batch (no key)",
        ],
      ]),
    );
  } else {
    out.push(notice("warn", "Refused: no mapping rule takes this topic (and mqtt.default_topic is off)."));
  }
  out.push(
    h("h2", { class: "sub" }, "Receivers"),
    table(
      ["Client ID", "Filter", "#QoS", "Connected"],
      e.subscribers.map((s) => [
        s.clientId,
        h("code", null, s.filter),
        s.qos,
        s.connected ? "yes" : "no (queued)",
      ]),
      { testid: "explain-subscribers", empty: "No session is subscribed to this topic." },
    ),
  );
  if (e.sharedGroups.length > 0) {
    out.push(
      table(
        ["Shared group", "Filter", "#Members"],
        e.sharedGroups.map((g) => [g.group, h("code", null, g.filter), g.members]),
        { testid: "explain-shared" },
      ),
    );
  }
  return out;
}
