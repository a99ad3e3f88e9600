/**
 * IncrementalAlterConfigs (key 44), versions 0-1 (KIP-339).
 *
 * Topic resources, per config: SET (0) sets the override, DELETE (1) returns
 * the key to its default, APPEND (2) / SUBTRACT (3) add or remove items of a
 * list-valued config (cleanup.policy; other keys: INVALID_CONFIG). All
 * changes of one resource apply together or not at all; validate_only checks
 * and changes nothing. Broker resources are read-only (INVALID_REQUEST).
 * Spec: KIP-339, Kafka protocol guide "IncrementalAlterConfigs API".
 */
import { EddyError } from "../../broker/index.ts";
import { IncrementalAlterConfigs } from "../generated/index.ts";
import type { IncrementalAlterConfigsRequest } from "../generated/incremental-alter-configs-request.ts";
import type { IncrementalAlterConfigsResponse } from "../generated/incremental-alter-configs-response.ts";
import { alterResult, applyTopicChanges } from "./alter-configs.ts";
import { ConfigType, TOPIC_KEY_INFO } from "./configs.ts";
import type { Handler } from "./context.ts";

export const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

const LIST_DEFAULTS: Record<string, string> = { "cleanup.policy": "delete" };

function listItems(value: string | null | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export const handler: Handler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> = {
  api: IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, _header, body) {
    const responses = [];
    for (const r of body.resources) {
      const changes = (overrides: Record<string, string>): Record<string, string | null> => {
        const out: Record<string, string | null> = {};
        const current = (key: string): string | undefined =>
          key in out ? (out[key] ?? undefined) : (overrides[key] ?? LIST_DEFAULTS[key]);
        for (const c of r.configs) {
          if (c.configOperation === OpType.SET) out[c.name] = c.value;
          else if (c.configOperation === OpType.DELETE) out[c.name] = null;
          else if (c.configOperation === OpType.APPEND || c.configOperation === OpType.SUBTRACT) {
            if (TOPIC_KEY_INFO[c.name]?.type !== ConfigType.LIST) {
              throw new EddyError("INVALID_CONFIG", `${c.name} is not a list: use SET or DELETE`);
            }
            const items = listItems(current(c.name));
            const given = listItems(c.value);
            const next =
              c.configOperation === OpType.APPEND
                ? [...items, ...given.filter((g) => !items.includes(g))]
                : items.filter((i) => !given.includes(i));
            out[c.name] = next.length === 0 ? null : [...next].sort().join(",");
          } else {
            throw new EddyError(
              "INVALID_REQUEST",
              `unknown config operation ${c.configOperation} for ${c.name}`,
            );
          }
        }
        return out;
      };
      responses.push(await applyTopicChanges(ctx, r, changes, body.validateOnly));
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    responses: body.resources.map((r) => alterResult(r, errorCode, null)),
  }),
};
