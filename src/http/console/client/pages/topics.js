/** Topics: list and create; one topic's partitions, configs, and a "produce a test record" form. */
import { get, post, seg } from "../api.js";
import { bytes, count, duration, errorText, formValues, h, kv, notice, routeHref, table } from "../dom.js";

export async function render(main, route) {
  const name = route.path[1];
  return name === undefined ? renderList(main) : renderTopic(main, name);
}

async function renderList(main) {
  const { topics } = await get("/v1/topics");
  main.append(
    h("h1", null, "Topics"),
    h(
      "div",
      { class: "panel" },
      table(
        ["Name", "#Partitions", "#Replication factor"],
        topics
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((t) => [
            h("a", { href: routeHref(["topics", t.name]) }, t.name),
            t.partitions,
            t.replicationFactor,
          ]),
        { testid: "topics-table", empty: "No topics yet: create one below." },
      ),
    ),
    createForm(),
  );
}

function createForm() {
  const result = h("div");
  const form = h(
    "form",
    { class: "inline", "data-testid": "create-topic" },
    h(
      "label",
      null,
      "Name",
      h("input", { name: "name", required: true, pattern: "[a-zA-Z0-9._\\-]{1,249}" }),
    ),
    h("label", null, "Partitions", h("input", { name: "partitions", type: "number", min: 1, value: 1 })),
    h(
      "label",
      null,
      "Cleanup policy",
      h(
        "select",
        { name: "cleanup" },
        h("option", { value: "" }, "default"),
        h("option", { value: "delete" }, "delete"),
        h("option", { value: "compact" }, "compact"),
        h("option", { value: "compact,delete" }, "compact,delete"),
      ),
    ),
    h(
      "label",
      null,
      "Retention (ms, -1 = forever)",
      h("input", { name: "retention", type: "number", min: -1 }),
    ),
    h("button", { class: "primary", type: "submit" }, "Create topic"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    const configs = {};
    if (v.cleanup) configs["cleanup.policy"] = v.cleanup;
    if (v.retention !== "") configs["retention.ms"] = Number(v.retention);
    try {
      await post("/v1/topics", { name: v.name.trim(), partitions: Number(v.partitions) || 1, configs });
      location.hash = routeHref(["topics", v.name.trim()]);
    } catch (err) {
      result.replaceChildren(notice("error", errorText(err)));
    }
  });
  return h("div", { class: "panel" }, h("h2", null, "Create a topic"), form, result);
}

async function renderTopic(main, name) {
  const t = await get(`/v1/topics/${seg(name)}`);
  const c = t.configs;
  const totals = t.partitions.reduce(
    (acc, p) => ({
      records: acc.records + (p.highWatermark - p.logStartOffset),
      size: acc.size + p.sizeBytes,
    }),
    { records: 0, size: 0 },
  );
  const overrides = Object.entries(t.overrides);
  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#/topics" }, "Topics"), " / ", name),
    h("h1", null, name),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "panel", "data-testid": "topic-summary" },
        h("h2", null, "Summary"),
        kv([
          ["Id", h("code", null, t.id)],
          ["Partitions", t.partitions.length],
          ["Replication factor", t.replicationFactor],
          ["Records held", count(totals.records)],
          ["Size", bytes(totals.size)],
        ]),
      ),
      h(
        "div",
        { class: "panel", "data-testid": "topic-retention" },
        h("h2", null, "Retention and compaction"),
        kv([
          ["Cleanup policy", c["cleanup.policy"]],
          ["Retention time", duration(c["retention.ms"])],
          [
            "Retention size",
            c["retention.bytes"] < 0 ? "unlimited" : `${bytes(c["retention.bytes"])} per partition`,
          ],
          ["Tombstones kept", duration(c["delete.retention.ms"])],
          ["Min. compaction lag", duration(c["min.compaction.lag.ms"])],
          ["Segment", `${bytes(c["segment.bytes"])} or ${duration(c["segment.ms"])}`],
          ["Durability", c.durability],
        ]),
        h(
          "p",
          { class: "muted" },
          overrides.length
            ? `Set on this topic: ${overrides.map(([k, v]) => `${k}=${v}`).join(", ")}`
            : "All defaults.",
        ),
      ),
    ),
    h(
      "div",
      { class: "panel" },
      h("h2", null, "Partitions"),
      table(
        [
          "#Partition",
          "#Leader",
          "ISR",
          "#Log start",
          "#High watermark",
          "#Log end",
          "#Size",
          "#Segments",
          "",
        ],
        t.partitions.map((p) => [
          p.partition,
          p.leader,
          p.isr.join(", "),
          count(p.logStartOffset),
          count(p.highWatermark),
          count(p.logEndOffset),
          bytes(p.sizeBytes),
          p.segments,
          h("a", { href: routeHref(["records"], { topic: name, partition: p.partition }) }, "browse"),
        ]),
        { testid: "partitions-table" },
      ),
    ),
    produceForm(name, t.partitions.length),
  );
}

function produceForm(topic, partitions) {
  const result = h("div", { "data-testid": "produce-result" });
  const form = h(
    "form",
    { class: "inline", "data-testid": "produce" },
    h(
      "label",
      null,
      "Partition",
      h(
        "select",
        { name: "partition" },
        h("option", { value: "" }, "by key"),
        Array.from({ length: partitions }, (_, i) => h("option", { value: i }, String(i))),
      ),
    ),
    h("label", null, "Key", h("input", { name: "key", placeholder: "optional" })),
    h("label", null, "Value", h("textarea", { name: "value", rows: 3 }, '{"hello": "eddy"}')),
    h("label", null, "Headers (name=value per line)", h("textarea", { name: "headers", rows: 3 })),
    h(
      "label",
      null,
      "Value is",
      h(
        "select",
        { name: "valueEncoding" },
        h("option", { value: "string" }, "text (stored as typed)"),
        h("option", { value: "json" }, "JSON (checked)"),
      ),
    ),
    h("button", { class: "primary", type: "submit" }, "Produce"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    try {
      let value = v.value;
      if (v.valueEncoding === "json") value = JSON.parse(v.value);
      const headers = v.headers
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => {
          const eq = line.indexOf("=");
          return eq < 0
            ? { key: line.trim(), value: null }
            : { key: line.slice(0, eq).trim(), value: line.slice(eq + 1) };
        });
      const record = { key: v.key === "" ? null : v.key, value, headers };
      if (v.partition !== "") record.partition = Number(v.partition);
      const res = await post(`/v1/topics/${seg(topic)}/records`, {
        records: [record],
        valueEncoding: v.valueEncoding,
      });
      const r = res.records[0];
      result.replaceChildren(
        notice("ok", `Stored at partition ${r.partition}, offset ${r.offset}. `),
        h(
          "a",
          { href: routeHref(["records"], { topic, partition: r.partition, offset: r.offset }) },
          "Browse it",
        ),
      );
    } catch (err) {
      result.replaceChildren(
        notice(
          "error",
          err instanceof SyntaxError ? `The value is not JSON: ${err.message}` : errorText(err),
        ),
      );
    }
  });
  return h("div", { class: "panel" }, h("h2", null, "Produce a test record"), form, result);
}
