/**
 * Navigation entries for features whose API does not exist yet. They say
 * what is coming and with which issue; they are not stand-ins for the feature.
 */
import { h } from "../dom.js";

const COMING = {
  peers: {
    title: "Peers",
    issue: "the replication issue",
    what: "the peer nodes of the cluster, partition leaders and in-sync replicas",
  },
};

export function render(main, route) {
  const c = COMING[route.path[0]];
  main.append(
    h("h1", null, c.title),
    h(
      "div",
      { class: "panel coming", "data-testid": "coming" },
      h("p", null, h("strong", null, "Not available yet: "), `arrives with ${c.issue}.`),
      h("p", { class: "muted" }, `This page will show ${c.what}.`),
    ),
  );
}
