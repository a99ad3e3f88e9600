/**
 * The public door of the broker. Frontends (src/http, src/cli, src/kafka) and
 * bridges import only this module (plus leaves): the BrokerApi types,
 * createBroker, topic-config helpers, the RecordBatch v2 codec helpers they
 * need to speak Kafka bytes, and the error types.
 */
export type * from "./types.ts";
export { type Broker, createBroker, DEFAULT_HOUSEKEEPING_INTERVAL_MS } from "./broker.ts";
export type { BrokerDefaults, BrokerObserver, BrokerOptions, ClusterOptions } from "./options.ts";
export type { ClusterStatus } from "../cluster/cluster-node.ts";
export type { PeerCall, PeerRouteHandler, PeerRpc } from "../cluster/peer-protocol.ts";
export type { HousekeepingReport } from "./housekeeping.ts";
export {
  normaliseOverrides,
  parseTopicConfig,
  TOPIC_CONFIG_DEFAULTS,
  TOPIC_CONFIG_KEYS,
} from "./topic-configs.ts";
export { MAX_TOPIC_NAME_LENGTH, validateTopicName } from "./topic-names.ts";
export {
  compileMapping,
  DEFAULT_STREAM_TOPIC,
  type ForwardExplanation,
  type ForwardTarget,
  isValidMqttTopicFilter,
  isValidMqttTopicName,
  MAPPING_HEADERS,
  type MappingRule,
  recordTopic,
  type ReverseRule,
  type ReverseTarget,
  type TopicMapping,
  type TopicMappingConfig,
} from "./topic-mapping.ts";
export { DEFAULT_PARTITION_MAX_BYTES, DEFAULT_RESPONSE_MAX_BYTES } from "./fetch.ts";
export {
  checkBatch,
  Compression,
  decodeBatch,
  decodeRecords,
  encodeBatch,
  iterateBatches,
  readBatchHeader,
} from "../log/record-batch.ts";
export type { BatchHeader, EncodeOptions } from "../log/record-batch.ts";
export { CleanupPolicy, Durability } from "../log/types.ts";
export { GroupState } from "../groups/types.ts";
export { EddyError, ERROR_TABLE, ErrorCode, isEddyError, toEddyError } from "../errors.ts";
