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
}

const observersSchema = z.object({
  address: z.string().describe("The CoAP listener's UDP address"),
  observers: z.number().int().describe("Live Observe registrations"),
});

export function registerCoapRoutes(router: ApiRouter, coap: CoapAdmin | undefined): void {
  router.add(
    {
      method: "get",
      path: "/v1/coap/observers",
      tag: "coap",
      summary: "Live CoAP observations (RFC 7641 Observe)",
      responses: { 200: { description: "Observer count", schema: observersSchema } },
    },
    (c) => {
      if (!coap) {
        throw new EddyError(
          ErrorCode.NOT_FOUND,
          "CoAP is not enabled on this broker: set listeners.coap (or --coap-listen HOST:PORT) and restart",
        );
      }
      return c.json({ address: coap.address(), observers: coap.observers() });
    },
  );
}
