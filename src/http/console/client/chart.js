/** A small SVG line chart for rates over time (no library). */
const SVG = "http://www.w3.org/2000/svg";
const W = 600;
const H = 180;
const PAD = { left: 56, right: 8, top: 8, bottom: 18 };

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * Draw series into `host` (an <svg class="chart">). `series` is
 * [{ values: number[], className: "s1" }], all the same length (oldest first);
 * `format` renders axis labels. With `points` the x axis has room for that many
 * values and shorter series are drawn against its right edge (the newest).
 */
export function drawChart(host, series, format, points = 0) {
  host.replaceChildren();
  host.setAttribute("viewBox", `0 0 ${W} ${H}`);
  host.setAttribute("preserveAspectRatio", "none");
  const n = Math.max(2, points, ...series.map((s) => s.values.length));
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const x = (i) => PAD.left + (i * (W - PAD.left - PAD.right)) / (n - 1);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    host.append(svg("line", { class: "grid-line", x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    const label = svg("text", { class: "axis-label", x: PAD.left - 6, y: y(v) + 3, "text-anchor": "end" });
    label.textContent = format(v);
    host.append(label);
  }
  for (const s of series) {
    if (s.values.length === 0) continue;
    const offset = n - s.values.length;
    const points = s.values.map((v, i) => `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    host.append(svg("polyline", { class: s.className, points, "vector-effect": "non-scaling-stroke" }));
  }
}

/** 1, 2, 5 × 10^k at or above v (at least 1). */
function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
