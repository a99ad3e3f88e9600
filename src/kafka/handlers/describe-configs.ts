/**
 * DescribeConfigs (key 32), versions 0-4.
 *
 * Topic resources (type 2): every topic config Eddy knows with its effective
 * value and source (TOPIC_CONFIG when overridden on the topic, otherwise
 * STATIC_BROKER_CONFIG when eddy.toml changed the default, else
 * DEFAULT_CONFIG); synonyms (v1+, on request) list the topic override, the
 * broker-level key (log.retention.ms...) and the built-in default; type and
 * documentation from v3. Broker resources (type 4, name = node id or ""):
 * the broker's settings under their Kafka names, read-only. Requested keys
 * that Eddy does not have are left out, as Kafka does for unknown keys.
 * Other resource types: INVALID_REQUEST. Nothing is sensitive.
 * Spec: Kafka protocol guide "DescribeConfigs API", KIP-133, KIP-226.
 */
import { DescribeConfigs } from "../generated/index.ts";
import type {
  DescribeConfigsRequest,
  DescribeConfigsResource,
} from "../generated/describe-configs-request.ts";
import type {
  DescribeConfigsResourceResult,
  DescribeConfigsResponse,
  DescribeConfigsResult,
} from "../generated/describe-configs-response.ts";
import { brokerConfigEntries, type ConfigEntry, ResourceType, topicConfigEntries } from "./configs.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

function failed(
  r: DescribeConfigsResource,
  errorCode: number,
  message: string | null,
): DescribeConfigsResult {
  return {
    errorCode,
    errorMessage: message,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    configs: [],
  };
}

async function describeOne(
  ctx: HandlerContext,
  r: DescribeConfigsResource,
  v: number,
  body: DescribeConfigsRequest,
): Promise<DescribeConfigsResult> {
  let entries: ConfigEntry[];
  if (r.resourceType === ResourceType.TOPIC) {
    try {
      entries = topicConfigEntries(await ctx.broker.describeTopic(r.resourceName), ctx.brokerConfigs);
    } catch (err) {
      return failed(r, kafkaErrorCode(err), errorMessage(err));
    }
  } else if (r.resourceType === ResourceType.BROKER) {
    if (r.resourceName !== "" && r.resourceName !== String(ctx.nodeId)) {
      return failed(r, KafkaError.INVALID_REQUEST, `this is broker ${ctx.nodeId}, not '${r.resourceName}'`);
    }
    entries = brokerConfigEntries(ctx.brokerConfigs);
  } else {
    return failed(r, KafkaError.INVALID_REQUEST, `resource type ${r.resourceType} is not supported by Eddy`);
  }
  const keys = r.configurationKeys;
  if (keys !== null && keys.length > 0) entries = entries.filter((e) => keys.includes(e.name));
  const configs: DescribeConfigsResourceResult[] = entries.map((e) => ({
    name: e.name,
    value: e.value,
    readOnly: e.readOnly,
    isDefault: v === 0 ? e.source === 5 : false,
    configSource: e.source,
    isSensitive: false,
    synonyms: v >= 1 && body.includeSynonyms ? e.synonyms : [],
    configType: e.type,
    documentation: v >= 3 && body.includeDocumentation ? e.doc : null,
  }));
  return {
    errorCode: 0,
    errorMessage: null,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
    configs,
  };
}

export const handler: Handler<DescribeConfigsRequest, DescribeConfigsResponse> = {
  api: DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, header, body) {
    const results: DescribeConfigsResult[] = [];
    for (const r of body.resources) results.push(await describeOne(ctx, r, header.apiVersion, body));
    return { throttleTimeMs: 0, results };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    results: body.resources.map((r) => failed(r, errorCode, null)),
  }),
};
