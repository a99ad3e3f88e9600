/**
 * Overview: health, storage totals, disk use, and throughput from the broker's
 * own per-second samples (/v1/stats/history), so the chart survives a reload.
 */
import { get } from "../api.js";
import { drawChart } from "../chart.js";
import { bytes, count, duration, errorText, h, kv, notice } from "../dom.js";

const POLL_MS = 2000;

export async function render(main) {
  const healthBox = h("div", { class: "panel", "data-testid": "health" }, h("h2", null, "Health"));
  const storageBox = h("div", { class: "panel", "data-testid": "storage" }, h("h2", null, "Storage"));
  const diskBox = h("div", { class: "panel", "data-testid": "disk" }, h("h2", null, "Disk"));
  const chartSvg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  chartSvg.setAttribute("class", "chart");
  chartSvg.setAttribute("data-testid", "throughput-chart");
  const rateLine = h("div", { class: "muted", "data-testid": "rates" }, "Measuring…");
  const errorBox = h("div");
  main.append(
    h("h1", null, "Overview"),
    errorBox,
    h("div", { class: "grid" }, healthBox, storageBox, diskBox),
    h(
      "div",
      { class: "panel", "data-testid": "throughput" },
      h("h2", null, "Throughput"),
      chartSvg,
      h(
        "div",
        { class: "legend" },
        h("span", { class: "s1" }, "bytes in /s"),
        h("span", { class: "s2" }, "bytes out /s"),
      ),
      rateLine,
    ),
  );

  let timer = null;
  let stopped = false;

  const fill = (box, title, content) => box.replaceChildren(h("h2", null, title), content);

  async function tick() {
    try {
      const [health, stats, history] = await Promise.all([
        get("/health"),
        get("/v1/stats"),
        get("/v1/stats/history"),
      ]);
      if (stopped) return;
      errorBox.replaceChildren();
      const checks = Object.entries(health.checks ?? {}).map(([name, r]) => [
        name,
        r.ok ? "ok" : `failing${r.detail ? `: ${r.detail}` : ""}`,
      ]);
      fill(
        healthBox,
        "Health",
        kv([
          ["Status", h("span", { class: `badge ${health.status === "ok" ? "ok" : "warn"}` }, health.status)],
          ["Ready", health.ready ? "yes" : "no"],
          ["Version", health.version],
          ["Node", `${health.nodeId} (cluster ${health.clusterId})`],
          ["Uptime", duration(health.uptimeMs)],
          ...checks,
        ]),
      );
      fill(
        storageBox,
        "Storage",
        kv([
          ["Topics", count(stats.topics)],
          ["Partitions", count(stats.partitions)],
          ["Records held", count(stats.records)],
          ["Log size", bytes(stats.logBytes)],
          ["Segments", count(stats.segments)],
        ]),
      );
      fill(diskBox, "Disk", diskView(stats));
      const samples = history.samples;
      const last = samples.at(-1);
      if (last) {
        rateLine.textContent =
          `in ${count(Math.round(last.recordsInPerSec))} records/s (${bytes(last.bytesInPerSec)}/s), ` +
          `out ${bytes(last.bytesOutPerSec)}/s · chart: last ${duration(samples.length * history.intervalMs)} ` +
          `· since start: ${count(stats.appendedRecords)} records appended`;
      }
      drawChart(
        chartSvg,
        [
          { values: samples.map((x) => x.bytesInPerSec), className: "s1" },
          { values: samples.map((x) => x.bytesOutPerSec), className: "s2" },
        ],
        (v) => `${bytes(v)}/s`,
        history.capacity,
      );
    } catch (err) {
      if (!stopped) errorBox.replaceChildren(notice("error", errorText(err)));
    } finally {
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    }
  }
  await tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function diskView(stats) {
  const d = stats.disk;
  if (!d) return h("p", { class: "muted" }, "Disk use is not reported by this broker (no data directory).");
  const usedPct = d.totalBytes > 0 ? (100 * (d.totalBytes - d.freeBytes)) / d.totalBytes : 0;
  const bar = h("div", { class: `bar ${usedPct > 95 ? "bad" : usedPct > 85 ? "warn" : ""}` }, h("div"));
  bar.firstChild.style.width = `${usedPct.toFixed(1)}%`;
  return h(
    "div",
    null,
    kv([
      ["Data directory", h("code", null, d.path)],
      ["Free", `${bytes(d.freeBytes)} of ${bytes(d.totalBytes)}`],
      ["Used by Eddy", bytes(stats.logBytes)],
    ]),
    h("p", { class: "muted" }, `${usedPct.toFixed(1)} % of the file system in use`),
    bar,
  );
}
