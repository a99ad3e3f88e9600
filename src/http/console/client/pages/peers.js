/**
 * Peers and the cluster, from GET /v1/cluster: this node, the mode (single
 * node or cluster), the controller, every node (peer URL, witness, whether the
 * controller hears it) and every partition's leader, replicas and ISR.
 * Under-replicated (ISR smaller than the replicas) and offline (no leader)
 * partitions are listed first and highlighted in the partition table.
 */
import { get } from "../api.js";
import { h, kv, poll, routeHref, table } from "../dom.js";

const POLL_MS = 3000;

export async function render(main) {
  main.append(h("h1", null, "Peers"));
  const errorBox = h("div");
  const summaryBox = h("div", { class: "panel" });
  const problemsBox = h("div");
  const nodesBox = h("div");
  const partitionsBox = h("div");
  const draw = (c) => {
    summaryBox.replaceChildren(h("h2", null, "This node"), summary(c));
    problemsBox.replaceChildren(...problems(c));
    nodesBox.replaceChildren(nodesTable(c));
    partitionsBox.replaceChildren(partitionsTable(c));
  };
  draw(await get("/v1/cluster"));
  main.append(
    errorBox,
    summaryBox,
    problemsBox,
    h("div", { class: "panel" }, h("h2", null, "Nodes"), nodesBox),
    h("div", { class: "panel" }, h("h2", null, "Partitions"), partitionsBox),
  );
  return poll(async () => draw(await get("/v1/cluster")), POLL_MS, errorBox);
}

function summary(c) {
  const single = c.mode === "single";
  return h(
    "div",
    null,
    kv([
      ["Node", h("span", { "data-testid": "cluster-node-id" }, String(c.nodeId))],
      [
        "Mode",
        h(
          "span",
          { "data-testid": "cluster-mode" },
          single ? "single node" : `cluster of ${c.nodes.length} nodes`,
        ),
      ],
      [
        "Controller",
        h(
          "span",
          { "data-testid": "cluster-controller" },
          c.controllerId === null
            ? h("span", { class: "badge bad" }, "none (election in progress)")
            : `node ${c.controllerId}${c.controllerId === c.nodeId ? " (this node)" : ""}`,
        ),
      ],
      ["Partitions", String(c.partitions.length)],
    ]),
    single
      ? h(
          "p",
          { class: "muted" },
          "This broker runs alone: it leads every partition and nothing is replicated. " +
            "Add [[cluster.peers]] sections to eddy.toml (every node, this one included) to replicate.",
        )
      : null,
  );
}

function problems(c) {
  const out = [];
  if (c.offline.length > 0) {
    out.push(
      h(
        "div",
        { role: "alert", class: "notice error", "data-testid": "cluster-offline" },
        `${c.offline.length} offline partition(s), no leader: ${c.offline.map(name).join(", ")}. ` +
          "Bring their replicas' nodes back; the controller elects a leader from the ISR.",
      ),
    );
  }
  if (c.underReplicated.length > 0) {
    out.push(
      h(
        "div",
        { role: "status", class: "notice warn", "data-testid": "cluster-under-replicated" },
        `${c.underReplicated.length} under-replicated partition(s): ${c.underReplicated.map(name).join(", ")}. ` +
          "A replica is behind or its node is down; it rejoins the ISR once it catches up.",
      ),
    );
  }
  if (out.length === 0 && c.partitions.length > 0) {
    out.push(
      h(
        "div",
        { role: "status", class: "notice ok", "data-testid": "cluster-healthy" },
        "Every partition has a leader and a full ISR.",
      ),
    );
  }
  return out;
}

function name(p) {
  return `${p.topic}-${p.partition}`;
}

function nodesTable(c) {
  return table(
    ["#Node", "Role", "Peer URL", "Kafka address", "Alive"],
    c.nodes.map((n) => [
      String(n.id),
      [
        n.witness ? "witness" : "data",
        n.id === c.controllerId ? h("span", { class: "badge ok" }, "controller") : null,
        n.id === c.nodeId ? h("span", { class: "badge" }, "this node") : null,
      ],
      n.url ? h("code", null, n.url) : "–",
      n.kafkaHost ? h("code", null, `${n.kafkaHost}:${n.kafkaPort}`) : "–",
      n.alive === null
        ? h("span", { class: "muted", title: "only the controller can tell" }, "unknown")
        : h("span", { class: `badge ${n.alive ? "ok" : "bad"}` }, n.alive ? "alive" : "down"),
    ]),
    { testid: "cluster-nodes", empty: "No nodes reported." },
  );
}

function partitionsTable(c) {
  const offline = new Set(c.offline.map(name));
  const under = new Set(c.underReplicated.map(name));
  const rows = [...c.partitions].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const state = (p) => (offline.has(name(p)) ? "offline" : under.has(name(p)) ? "under-replicated" : "ok");
  const wrap = table(
    ["Topic", "#Partition", "#Leader", "#Epoch", "Replicas", "ISR", "State"],
    rows.map((p) => {
      const s = state(p);
      return [
        h("a", { href: routeHref(["topics", p.topic]) }, p.topic),
        String(p.partition),
        p.leader < 0 ? "none" : String(p.leader),
        String(p.leaderEpoch),
        p.replicas.join(", "),
        p.isr.join(", ") || "–",
        h("span", { class: `badge ${s === "ok" ? "ok" : s === "offline" ? "bad" : "warn"}` }, s),
      ];
    }),
    { testid: "cluster-partitions", empty: "No partitions yet: create a topic." },
  );
  const trs = wrap.querySelectorAll("tbody tr");
  rows.forEach((p, i) => {
    const s = state(p);
    if (s !== "ok") trs[i]?.classList.add(s === "offline" ? "row-bad" : "row-warn");
  });
  return wrap;
}
