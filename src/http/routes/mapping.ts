/**
 * GET /v1/mapping: the active topic mapping shared by MQTT and CoAP — forward
 * rules (first match wins), reverse rules and the default stream topic — with
 * the defaults filled in (key template `{topic}`, QoS 1). The rules come from
 * the `mapping` option of createHttpApp (src/main.ts passes the config's
 * [mqtt] rules); without it, the zero-config mapping is shown. They are
 * compiled here too, so an invalid set is reported exactly like at start-up.
 */
import { z } from "zod";
import { compileMapping, DEFAULT_STREAM_TOPIC, type TopicMappingConfig } from "../../broker/index.ts";
import type { ApiRouter } from "../openapi.ts";

export const mappingSchema = z.object({
  rules: z
    .array(
      z.object({
        filter: z.string().describe("MQTT topic filter (+ and # allowed)"),
        topic: z.string().describe("Stream topic the messages are stored in"),
        key: z.string().describe("Record key template: {topic}, {1}.., {#}; empty = no key"),
      }),
    )
    .describe("Forward rules, in order: the first whose filter matches takes the message"),
  reverse: z
    .array(
      z.object({
        topic: z.string().describe("Stream topic whose records are delivered"),
        mqttTopic: z.string().describe("Topic template; {key} is the record key"),
        qos: z.number().int(),
      }),
    )
    .describe("Records without an mqtt.topic header on these topics are delivered under the template"),
  defaultTopic: z
    .string()
    .nullable()
    .describe("Stream topic for topics no rule matches (keyed by the topic); null refuses them"),
  visibleTopics: z.array(z.string()).describe("Every stream topic subscribers can receive from"),
});

export type MappingView = z.output<typeof mappingSchema>;

/** The mapping with its defaults filled in; throws INVALID_CONFIG like compileMapping for an invalid set. */
export function mappingView(config: TopicMappingConfig = {}): MappingView {
  const compiled = compileMapping(config);
  return {
    rules: (config.rules ?? []).map((r) => ({ filter: r.filter, topic: r.topic, key: r.key ?? "{topic}" })),
    reverse: (config.reverse ?? []).map((r) => ({ topic: r.topic, mqttTopic: r.mqttTopic, qos: r.qos ?? 1 })),
    defaultTopic: config.defaultTopic === undefined ? DEFAULT_STREAM_TOPIC : config.defaultTopic,
    visibleTopics: [...compiled.visibleTopics],
  };
}

export function registerMappingRoutes(router: ApiRouter, mapping: TopicMappingConfig | undefined): void {
  let view: MappingView | undefined;
  router.add(
    {
      method: "get",
      path: "/v1/mapping",
      tag: "mqtt",
      summary: "The active topic mapping (MQTT and CoAP): forward rules, reverse rules, default topic",
      responses: { 200: { description: "The mapping", schema: mappingSchema } },
    },
    (c) => {
      view ??= mappingView(mapping);
      return c.json(view);
    },
  );
}
