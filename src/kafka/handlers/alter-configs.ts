/**
 * AlterConfigs (key 33), versions 0-2 (the legacy, whole-set form).
 *
 * Topic resources: the request's configs become the topic's complete set of
 * overrides; overrides not named in the request return to their defaults
 * (Kafka's semantics, which is why clients moved to IncrementalAlterConfigs).
 * validate_only checks the topic and every key and value and changes
 * nothing. Unknown keys or bad values: INVALID_CONFIG; unknown topic:
 * UNKNOWN_TOPIC_OR_PARTITION. Broker resources are read-only over Kafka
 * (they come from eddy.toml): INVALID_REQUEST.
 * Spec: Kafka protocol guide "AlterConfigs API", KIP-133.
 */
import { parseTopicConfig } from "../../broker/index.ts";
import { AlterConfigs } from "../generated/index.ts";
import type { AlterConfigsRequest } from "../generated/alter-configs-request.ts";
import type {
  AlterConfigsResourceResponse,
  AlterConfigsResponse,
} from "../generated/alter-configs-response.ts";
import { ResourceType } from "./configs.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

export interface ConfigResourceRef {
  resourceType: number;
  resourceName: string;
}

export function alterResult(
  r: ConfigResourceRef,
  errorCode: number,
  message: string | null,
): AlterConfigsResourceResponse {
  return { errorCode, errorMessage: message, resourceType: r.resourceType, resourceName: r.resourceName };
}

/**
 * Apply (or with validateOnly, check) topic config changes; null resets a key.
 * Returns the per-resource result.
 */
export async function applyTopicChanges(
  ctx: HandlerContext,
  r: ConfigResourceRef,
  changes:
    | Record<string, string | null>
    | ((overrides: Record<string, string>) => Record<string, string | null>),
  validateOnly: boolean,
): Promise<AlterConfigsResourceResponse> {
  if (r.resourceType === ResourceType.BROKER) {
    return alterResult(
      r,
      KafkaError.INVALID_REQUEST,
      "broker configs are static in Eddy: change them in eddy.toml (or EDDY_… / flags) and restart",
    );
  }
  if (r.resourceType !== ResourceType.TOPIC) {
    return alterResult(
      r,
      KafkaError.INVALID_REQUEST,
      `resource type ${r.resourceType} is not supported by Eddy`,
    );
  }
  try {
    const topic = await ctx.broker.describeTopic(r.resourceName);
    const resolved = typeof changes === "function" ? changes({ ...topic.overrides }) : changes;
    if (validateOnly) {
      for (const [key, value] of Object.entries(resolved)) {
        if (value !== null) parseTopicConfig(key, value);
        else parseTopicConfig(key, String(topic.configs[key as keyof typeof topic.configs] ?? ""));
      }
    } else {
      await ctx.broker.alterTopicConfigs(r.resourceName, resolved);
    }
    return alterResult(r, KafkaError.NONE, null);
  } catch (err) {
    return alterResult(r, kafkaErrorCode(err), errorMessage(err));
  }
}

export const handler: Handler<AlterConfigsRequest, AlterConfigsResponse> = {
  api: AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, _header, body) {
    const responses: AlterConfigsResourceResponse[] = [];
    for (const r of body.resources) {
      const changes = (overrides: Record<string, string>): Record<string, string | null> => {
        const out: Record<string, string | null> = {};
        for (const key of Object.keys(overrides)) out[key] = null;
        for (const c of r.configs) out[c.name] = c.value;
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
