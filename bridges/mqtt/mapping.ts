/**
 * Topic mapping: where an MQTT PUBLISH lands in the log, and which stream
 * records reach MQTT subscribers. The engine lives in the broker core
 * (src/broker/topic-mapping.ts) so the CoAP bridge applies the same rules;
 * this module keeps the MQTT bridge's names for it.
 */
export {
  compileMapping,
  DEFAULT_STREAM_TOPIC,
  type ForwardTarget,
  type MappingRule,
  type ReverseRule,
  type ReverseTarget,
  type TopicMapping,
  type TopicMappingConfig as MqttMappingConfig,
} from "../../src/broker/index.ts";
