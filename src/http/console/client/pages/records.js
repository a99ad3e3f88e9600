/**
 * Record browser: pick a topic and partition, start at an offset, a time, or
 * either end, and read a page of records (key, value, headers) shown as
 * JSON, text or hex. The URL hash holds the query, so a view can be linked.
 */
import { get, seg } from "../api.js";
import { fromBase64, render as renderBytes, short, VIEWS } from "../codec.js";
import { count, errorText, formValues, h, notice, routeHref, table, time } from "../dom.js";

const PAGE = 50;

export async function render(main, route) {
  const q = route.query;
  const { topics } = await get("/v1/topics");
  const names = topics.map((t) => t.name).sort();
  main.append(h("h1", null, "Record browser"));
  if (names.length === 0) {
    main.append(notice("ok", "There are no topics yet."), h("a", { href: "#/topics" }, "Create a topic"));
    return;
  }
  const topic = names.includes(q.get("topic")) ? q.get("topic") : names[0];
  const desc = await get(`/v1/topics/${seg(topic)}`);
  const partition = Math.min(Number(q.get("partition") ?? 0) || 0, desc.partitions.length - 1);
  const from = q.has("offset") ? "offset" : q.has("time") ? "time" : (q.get("from") ?? "earliest");
  const view = VIEWS.includes(q.get("view")) ? q.get("view") : "auto";

  const form = h(
    "form",
    { class: "inline", "data-testid": "browse" },
    h(
      "label",
      null,
      "Topic",
      h(
        "select",
        { name: "topic" },
        names.map((n) => h("option", { value: n, selected: n === topic }, n)),
      ),
    ),
    h(
      "label",
      null,
      "Partition",
      h(
        "select",
        { name: "partition" },
        desc.partitions.map((p) =>
          h("option", { value: p.partition, selected: p.partition === partition }, String(p.partition)),
        ),
      ),
    ),
    h(
      "label",
      null,
      "Start at",
      h(
        "select",
        { name: "from" },
        [
          ["earliest", "earliest"],
          ["latest", `latest ${PAGE}`],
          ["offset", "offset…"],
          ["time", "time…"],
        ].map(([v, text]) => h("option", { value: v, selected: v === from }, text)),
      ),
    ),
    h(
      "label",
      null,
      "Offset",
      h("input", { name: "offset", type: "number", min: 0, value: q.get("offset") ?? "" }),
    ),
    h(
      "label",
      null,
      "Time (UTC)",
      h("input", { name: "time", type: "datetime-local", step: 1, value: q.get("time") ?? "" }),
    ),
    h(
      "label",
      null,
      "View",
      h(
        "select",
        { name: "view" },
        VIEWS.map((v) => h("option", { value: v, selected: v === view }, v)),
      ),
    ),
    h("button", { class: "primary", type: "submit" }, "Read"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = formValues(form);
    const query = { topic: v.topic, partition: v.topic === topic ? v.partition : 0, view: v.view };
    if (v.from === "offset") query.offset = v.offset || 0;
    else if (v.from === "time") query.time = v.time;
    else query.from = v.from;
    const href = routeHref(["records"], query);
    if (location.hash === href) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = href;
  });
  // Changing the topic re-renders so the partition list matches.
  form.elements.topic.addEventListener("change", () => {
    location.hash = routeHref(["records"], { topic: form.elements.topic.value, view });
  });

  const results = h("div", { class: "panel", "data-testid": "records" });
  main.append(h("div", { class: "panel" }, form), results);
  await read(results, { topic, partition, from, q, view });
}

async function read(results, { topic, partition, from, q, view }) {
  const base = `/v1/topics/${seg(topic)}/partitions/${partition}`;
  let offset;
  if (from === "offset") offset = Number(q.get("offset")) || 0;
  else if (from === "time") {
    const ms = Date.parse(`${q.get("time")}Z`);
    if (!Number.isFinite(ms)) {
      results.append(notice("error", "Enter a time to start from."));
      return;
    }
    const r = await get(`${base}/offsets?at=${ms}`);
    if (r.offset < 0) {
      results.append(notice("ok", `No record in ${topic}/${partition} at or after ${time(ms)}.`));
      return;
    }
    offset = r.offset;
  } else if (from === "latest") {
    const r = await get(`${base}/offsets?at=latest`);
    const start = await get(`${base}/offsets?at=earliest`);
    offset = Math.max(start.offset, r.offset - PAGE);
  } else {
    offset = (await get(`${base}/offsets?at=earliest`)).offset;
  }
  let page;
  try {
    page = await get(
      `${base}/records?offset=${offset}&maxRecords=${PAGE}&keyEncoding=base64&valueEncoding=base64&headerEncoding=base64`,
    );
  } catch (err) {
    results.append(notice("error", errorText(err)));
    return;
  }
  const rows = page.records.map((r) => {
    const value = renderBytes(fromBase64(r.value), view);
    return [
      r.offset,
      time(r.timestamp),
      h("code", null, short(fromBase64(r.key))),
      h(
        "div",
        null,
        h("pre", { class: `record-value ${value.view}` }, value.text),
        h("span", { class: "muted" }, value.view),
      ),
      h(
        "ul",
        { class: "headers" },
        r.headers.map((hd) =>
          h("li", null, h("code", null, `${hd.key}: ${short(fromBase64(hd.value), 60)}`)),
        ),
      ),
    ];
  });
  const more = page.nextOffset < page.highWatermark;
  results.append(
    h(
      "p",
      { class: "muted" },
      `${topic} / partition ${partition}: offsets ${count(page.logStartOffset)} to ${count(page.highWatermark - 1)} readable; showing from ${count(offset)}.`,
    ),
    table(["#Offset", "Timestamp", "Key", "Value", "Headers"], rows, {
      testid: "records-table",
      empty: "No records here.",
    }),
  );
  if (more) {
    const next = routeHref(["records"], { topic, partition, offset: page.nextOffset, view });
    results.append(h("p", null, h("a", { href: next }, `Next ${PAGE} →`)));
  }
}
