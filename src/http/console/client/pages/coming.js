/**
 * Navigation entries for features whose API does not exist yet. They say
 * what is coming and with which issue; they are not stand-ins for the feature.
 */
import { h } from "../dom.js";

const COMING = {
  mqtt: {
    title: "MQTT clients",
    issue: "the MQTT bridge issue",
    what: "connected MQTT clients and their sessions, retained messages, the topic-mapping rules with a live dry-run, and disconnecting a client",
  },
  coap: {
    title: "CoAP observers",
    issue: "the CoAP bridge issue",
    what: "CoAP observers (RFC 7641) per resource and the resource-to-topic mapping",
  },
  mirror: {
    title: "Mirror links",
    issue: "the mirror issue",
    what: "each link to the central Kafka cluster: its state, lag and how fast the backlog drains",
  },
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
