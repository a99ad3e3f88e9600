/**
 * CoAP operator endpoint, served when the CoAP listener runs (otherwise 404
 * saying how to turn it on): live Observe registrations. The data comes from
 * a `CoapAdmin` provider (src/main.ts adapts the CoAP bridge).
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../../errors.ts";
import type { ApiRouter } from "../openapi.ts";

/** What the CoAP endpoint reads; src/main.ts implements it over the CoAP listener. */
export interface CoapAdmin {
  /** Live observations (RFC 7641). */
  observers(): number;
  /** The bound UDP address, "host:port". */
  address(): string;
  /** The live observations, at most `limit` of them. */
  observations?(limit: number): CoapObservationView[];
}

/** One observation (the CoAP bridge's CoapObservation). */
export interface CoapObservationView {
  source: string;
  path: string;
  resource: string;
  topic: string;
  tokenHex: string;
  seq: number;
  notifications: number;
  lastNotifiedAt: number | null;
  conOutstanding: boolean;
}

/** The list stops here; `observers` still counts every one. */
export const MAX_LISTED_OBSERVATIONS = 500;

const observationSchema = z.object({
  source: z.string().describe('The client\'s UDP address, "address:port"'),
  path: z.string().describe('The observed resource, "/ps/data/<topic>"'),
  resource: z.string().describe("The resource name: the stream topic, or the mapped topic"),
  topic: z.string().describe("The stream topic followed"),
  tokenHex: z.string().describe("The observation's token, hex"),
  seq: z.number().int().describe("The last Observe sequence number sent (24-bit)"),
  notifications: z.number().int().describe("Notifications sent"),
  lastNotifiedAt: z.number().nullable().describe("When the last notification went (ms since the epoch)"),
  conOutstanding: z.boolean().describe("A confirmable notification awaits its ACK"),
});

const observersSchema = z.object({
  address: z.string().describe("The CoAP listener's UDP address"),
  observers: z.number().int().describe("Live Observe registrations"),
  observations: z
    .array(observationSchema)
    .describe(`The live observations (the first ${MAX_LISTED_OBSERVATIONS})`),
});

export function registerCoapRoutes(router: ApiRouter, coap: CoapAdmin | undefined): void {
  router.add(
    {
      method: "get",
      path: "/v1/coap/observers",
      tag: "coap",
      summary: "Live CoAP observations (RFC 7641 Observe)",
      responses: { 200: { description: "Observer count and list", schema: observersSchema } },
    },
    (c) => {
      if (!coap) {
        throw new EddyError(
          ErrorCode.NOT_FOUND,
          "CoAP is not enabled on this broker: set listeners.coap (or --coap-listen HOST:PORT) and restart",
        );
      }
      return c.json({
        address: coap.address(),
        observers: coap.observers(),
        observations: coap.observations?.(MAX_LISTED_OBSERVATIONS) ?? [],
      });
    },
  );
}
