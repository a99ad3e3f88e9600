/**
 * Mirror links: per link its state, lag and last error; per partition the
 * mirrored offset, lag (records, bytes, age), skipped records and errors.
 * The backlog-drain bar is computed here from lag over time: the share of the
 * largest backlog seen (since the link was last caught up) that has drained,
 * the drain rate over the last minute, and the time left at that rate.
 */
import { get } from "../api.js";
import { bytes, count, duration, h, kv, notice, poll, table, time } from "../dom.js";

const POLL_MS = 2000;
/** Lag samples kept per link or partition for the drain rate (~1 min at POLL_MS). */
const WINDOW = 30;
/** Per link and partition, across visits of the page: { peak, samples: [{ t, lag }] }. */
const trackers = new Map();

const STATE_BADGE = { forwarding: "ok", idle: "ok", connecting: "warn", down: "bad" };

export async function render(main) {
  main.append(h("h1", null, "Mirror links"));
  const errorBox = h("div");
  const linksBox = h("div", { "data-testid": "mirror-links" });
  const draw = ({ links }) => {
    const now = Date.now();
    if (links.length === 0) {
      linksBox.replaceChildren(
        h(
          "div",
          { class: "panel" },
          h("p", null, "No mirror links are configured."),
          h(
            "p",
            { class: "muted" },
            "Add a [[mirror.links]] section to eddy.toml (bootstrap servers and topics) and restart: " +
              "records then flow to the central Kafka cluster and this page shows each link's lag.",
          ),
        ),
      );
      return;
    }
    linksBox.replaceChildren(...links.map((l) => linkPanel(l, now)));
  };
  draw(await get("/v1/mirror/links"));
  main.append(errorBox, linksBox);
  return poll(async () => draw(await get("/v1/mirror/links")), POLL_MS, errorBox);
}

function linkPanel(link, now) {
  const drain = track(`link:${link.name}`, link.lagRecords, now);
  return h(
    "div",
    { class: "panel", "data-testid": `mirror-link-${link.name}` },
    h(
      "div",
      { class: "link-head" },
      h("h2", null, link.name),
      h("span", { class: `badge ${STATE_BADGE[link.state] ?? ""}`, "data-testid": "link-state" }, link.state),
    ),
    link.lastError
      ? notice("error", `Last error (${time(link.lastError.at)}): ${link.lastError.message}`)
      : null,
    kv([
      ["Central cluster", h("code", null, link.bootstrapServers.join(", "))],
      ["Owed records", count(link.lagRecords)],
      ["Skipped records", count(link.skippedRecords)],
    ]),
    drainView(drain, "drain"),
    table(
      [
        "Partition",
        "Remote",
        "State",
        "#Mirrored offset",
        "#High watermark",
        "#Lag",
        "#Lag bytes",
        "Lag age",
        "#Skipped",
        "Drain",
        "Last sent",
        "Last error",
      ],
      link.partitions.map((p) => {
        const d = track(`part:${link.name}/${p.topic}/${p.partition}`, p.lagRecords, now);
        return [
          `${p.topic}/${p.partition}`,
          `${p.remoteTopic}/${p.remotePartition ?? "by key"}`,
          h("span", { class: `badge ${STATE_BADGE[p.state] ?? ""}` }, p.state),
          count(p.mirroredOffset),
          count(p.highWatermark),
          count(p.lagRecords),
          bytes(p.lagBytes),
          p.lagRecords > 0 ? duration(p.lagAgeMs) : "–",
          skippedCell(p),
          drainView(d, "cell"),
          p.lastSentAt === null ? "–" : time(p.lastSentAt),
          p.lastError ? `${p.lastError.message} (${time(p.lastError.at)})` : "–",
        ];
      }),
      { testid: "mirror-partitions", empty: "This link mirrors no partition yet." },
    ),
  );
}

function skippedCell(p) {
  if (p.skippedRecords === 0) return "0";
  const last = p.skipped.at(-1);
  return h(
    "span",
    { title: "Deleted by size retention before the central cluster had them" },
    count(p.skippedRecords),
    last ? h("div", { class: "muted" }, `last: offsets ${last.from}–${last.to}`) : null,
  );
}

/**
 * Record one lag reading and derive: `progress` (0..1) of the backlog drained
 * since its peak, `rate` (records/s drained over the window; negative when
 * growing) and `etaMs` at that rate. A lag of 0 resets the peak.
 */
function track(key, lag, now) {
  let t = trackers.get(key);
  if (!t) {
    t = { peak: 0, samples: [] };
    trackers.set(key, t);
  }
  if (lag === 0) t.peak = 0;
  else t.peak = Math.max(t.peak, lag);
  t.samples.push({ t: now, lag });
  if (t.samples.length > WINDOW) t.samples.shift();
  const oldest = t.samples[0];
  const secs = (now - oldest.t) / 1000;
  const rate = secs > 0 ? (oldest.lag - lag) / secs : 0;
  return {
    lag,
    peak: t.peak,
    progress: t.peak > 0 ? (t.peak - lag) / t.peak : 1,
    rate,
    etaMs: rate > 0 ? (lag / rate) * 1000 : null,
  };
}

function drainView(d, kind) {
  const pct = Math.max(0, Math.min(100, d.progress * 100));
  const bar = h("div", { class: `bar ${d.lag === 0 ? "ok" : d.rate < 0 ? "warn" : ""}` }, h("div"));
  bar.firstChild.style.width = `${pct.toFixed(1)}%`;
  let text;
  if (d.lag === 0) text = "caught up";
  else if (d.rate > 0)
    text = `${pct.toFixed(0)} % of ${count(d.peak)} drained · ${count(Math.round(d.rate))} records/s · about ${duration(d.etaMs)} left`;
  else if (d.rate < 0)
    text = `${pct.toFixed(0)} % of ${count(d.peak)} drained · backlog growing by ${count(Math.round(-d.rate))} records/s`;
  else text = `${pct.toFixed(0)} % of ${count(d.peak)} drained`;
  if (kind === "cell")
    return h(
      "div",
      { "data-testid": "drain-cell" },
      h("span", { class: "muted" }, `${pct.toFixed(0)} %`),
      bar,
    );
  return h(
    "div",
    { class: "drain", "data-testid": "drain" },
    h("div", { class: "muted", "data-testid": "drain-text" }, `Backlog: ${text}`),
    bar,
  );
}
