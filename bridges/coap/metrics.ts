/**
 * Prometheus metrics of the CoAP listener, registered on the MetricsRegistry
 * given as the listener's `metrics` option:
 *
 * - eddy_coap_responses_total{code="2.04"}: responses sent, by response code;
 * - eddy_coap_observers: live observations (gauge);
 * - eddy_coap_dropped_datagrams_total{reason}: datagrams dropped — `oversized`
 *   (above maxDatagramBytes), `malformed` (undecodable), `outbox_full` (outgoing queue full);
 * - eddy_coap_rate_limited_total: requests answered 4.29;
 * - eddy_coap_notifications_dropped_total: intermediate states not sent to
 *   saturated observers (Observe flow control, observe.ts).
 *
 * The hot path only bumps plain numbers; a collector moves them into the
 * registry's counters before each exposition.
 */
import type { MetricsRegistry } from "../../src/observability/metrics.ts";
import { codeString } from "./codec/constants.ts";

export const DropReason = {
  OVERSIZED: "oversized",
  MALFORMED: "malformed",
  OUTBOX_FULL: "outbox_full",
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

export class CoapMetrics {
  /** Responses by code byte. */
  readonly responses = new Float64Array(256);
  readonly dropped: Record<DropReason, number> = { oversized: 0, malformed: 0, outbox_full: 0 };
  rateLimited = 0;
  droppedNotifications = 0;

  response(code: number): void {
    this.responses[code & 0xff]!++;
  }

  drop(reason: DropReason, n = 1): void {
    this.dropped[reason] += n;
  }

  /** Register on `registry`; `observers` reads the live count. Returns the collector's remover. */
  attach(registry: MetricsRegistry, observers: () => number): () => void {
    const responses = registry.counter({
      name: "eddy_coap_responses_total",
      help: "CoAP responses sent, by response code",
      labelNames: ["code"],
    });
    const gauge = registry.gauge({ name: "eddy_coap_observers", help: "Live CoAP observations" });
    const dropped = registry.counter({
      name: "eddy_coap_dropped_datagrams_total",
      help: "CoAP datagrams dropped: oversized, malformed, or outbox_full (outgoing queue full)",
      labelNames: ["reason"],
    });
    const limited = registry.counter({
      name: "eddy_coap_rate_limited_total",
      help: "CoAP requests refused with 4.29 by the per-source rate limit",
    });
    const notifDropped = registry.counter({
      name: "eddy_coap_notifications_dropped_total",
      help: "Intermediate Observe states not sent to saturated observers (only the newest is kept)",
    });
    let seenNotifDropped = 0;
    const seenResponses = new Float64Array(256);
    const seenDropped: Record<DropReason, number> = { oversized: 0, malformed: 0, outbox_full: 0 };
    let seenLimited = 0;
    const collect = (): void => {
      for (let c = 0; c < 256; c++) {
        const d = this.responses[c]! - seenResponses[c]!;
        if (d > 0) responses.inc({ code: codeString(c) }, d);
        seenResponses[c] = this.responses[c]!;
      }
      for (const reason of Object.values(DropReason)) {
        dropped.inc({ reason }, this.dropped[reason] - seenDropped[reason]);
        seenDropped[reason] = this.dropped[reason];
      }
      limited.inc(this.rateLimited - seenLimited);
      seenLimited = this.rateLimited;
      notifDropped.inc(this.droppedNotifications - seenNotifDropped);
      seenNotifDropped = this.droppedNotifications;
      gauge.set(observers());
    };
    collect();
    return registry.addCollector(collect);
  }
}
