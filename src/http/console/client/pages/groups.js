/** Consumer groups: list with total lag; one group's lag per partition and a reset-offsets form. */
import { get, post, seg } from "../api.js";
import { count, errorText, formValues, h, notice, routeHref, table, time } from "../dom.js";

export async function render(main, route) {
  const group = route.path[1];
  return group === undefined ? renderList(main) : renderGroup(main, group);
}

async function renderList(main) {
  const { groups } = await get("/v1/groups");
  const described = await Promise.all(groups.map((g) => get(`/v1/groups/${seg(g)}`).catch(() => null)));
  main.append(
    h("h1", null, "Consumer groups"),
    h(
      "div",
      { class: "panel" },
      table(
        ["Group", "Topics", "#Partitions", "#Total lag"],
        described
          .filter((d) => d !== null)
          .sort((a, b) => a.group.localeCompare(b.group))
          .map((d) => [
            h("a", { href: routeHref(["groups", d.group]) }, d.group),
            [...new Set(d.partitions.map((p) => p.topic))].join(", "),
            d.partitions.length,
            count(d.totalLag),
          ]),
        { testid: "groups-table", empty: "No consumer group has committed offsets yet." },
      ),
    ),
  );
}

async function renderGroup(main, group) {
  const d = await get(`/v1/groups/${seg(group)}`);
  const topics = [...new Set(d.partitions.map((p) => p.topic))];
  main.append(
    h("div", { class: "crumbs" }, h("a", { href: "#/groups" }, "Consumer groups"), " / ", group),
    h("h1", null, group),
    h(
      "div",
      { class: "panel" },
      h("h2", null, `Lag per partition (total ${count(d.totalLag)})`),
      table(
        ["Topic", "#Partition", "#Committed", "#High watermark", "#Lag", "Committed at", "Metadata"],
        d.partitions.map((p) => [
          h("a", { href: routeHref(["topics", p.topic]) }, p.topic),
          p.partition,
          h(
            "a",
            {
              href: routeHref(["records"], {
                topic: p.topic,
                partition: p.partition,
                offset: p.committedOffset,
              }),
            },
            count(p.committedOffset),
          ),
          count(p.highWatermark),
          count(p.lag),
          time(p.commitTimestamp),
          p.metadata,
        ]),
        { testid: "lag-table" },
      ),
    ),
    resetForm(group, topics),
  );
}

function resetForm(group, topics) {
  const result = h("div", { "data-testid": "reset-result" });
  const form = h(
    "form",
    { class: "inline", "data-testid": "reset" },
    h(
      "label",
      null,
      "Topic",
      h(
        "select",
        { name: "topic" },
        topics.map((t) => h("option", { value: t }, t)),
      ),
    ),
    h("label", null, "Partitions (blank = all)", h("input", { name: "partitions", placeholder: "e.g. 0,2" })),
    h(
      "label",
      null,
      "Reset to",
      h(
        "select",
        { name: "to" },
        [
          ["earliest", "earliest"],
          ["latest", "latest"],
          ["offset", "offset"],
          ["timestamp", "time (UTC)"],
          ["shiftBy", "shift by"],
        ].map(([v, text]) => h("option", { value: v }, text)),
      ),
    ),
    h("label", null, "Offset / shift", h("input", { name: "number", type: "number" })),
    h("label", null, "Time (UTC)", h("input", { name: "time", type: "datetime-local", step: 1 })),
    h(
      "label",
      { class: "check" },
      h("input", { name: "dryRun", type: "checkbox", checked: true }),
      "dry run",
    ),
    h("button", { class: "primary", type: "submit" }, "Reset offsets"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = formValues(form);
    let to = v.to;
    if (v.to === "offset") to = { offset: Number(v.number) };
    else if (v.to === "shiftBy") to = { shiftBy: Number(v.number) };
    else if (v.to === "timestamp") to = { timestamp: Date.parse(`${v.time}Z`) };
    const body = { topic: v.topic, to, dryRun: v.dryRun };
    const parts = v.partitions
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (parts.length) body.partitions = parts.map(Number);
    try {
      const res = await post(`/v1/groups/${seg(group)}/reset-offsets`, body);
      result.replaceChildren(
        notice("ok", res.dryRun ? "Dry run: nothing was committed." : "Committed the new offsets."),
        table(
          ["#Partition", "#Previous", "#New"],
          res.partitions.map((p) => [
            p.partition,
            p.previousOffset === null ? "–" : count(p.previousOffset),
            count(p.newOffset),
          ]),
          { testid: "reset-table" },
        ),
        ...(res.dryRun
          ? []
          : [h("a", { href: routeHref(["groups", group], { t: Date.now() }) }, "Refresh lag")]),
      );
    } catch (err) {
      result.replaceChildren(notice("error", errorText(err)));
    }
  });
  return h(
    "div",
    { class: "panel" },
    h("h2", null, "Reset offsets"),
    h(
      "p",
      { class: "muted" },
      "Stop the group's consumers first: a running consumer overwrites the reset with its next commit.",
    ),
    form,
    result,
  );
}
