/**
 * The MQTT bridge: an MQTT 3.1, 3.1.1 and 5.0 broker whose messages live in
 * the log. `startMqttListener` binds a TCP listener on a BrokerApi; the
 * composition root (src/main.ts) wires it in.
 */
export { startMqttListener, type MqttListener } from "./listener.ts";
export type { MqttBridgeOptions } from "./options.ts";
export {
  compileMapping,
  DEFAULT_STREAM_TOPIC,
  type MappingRule,
  type MqttMappingConfig,
  type ReverseRule,
  type TopicMapping,
} from "./mapping.ts";
export { H as MQTT_HEADERS } from "./message.ts";
export { RETAINED_TOPIC, SESSIONS_TOPIC } from "./internal-topics.ts";
export type { MqttAuth, MqttAuthRequest, MqttAuthResult } from "./auth.ts";
export { type AclRule, compileAcl, type MqttAcl, type MqttAclConfig } from "./acl.ts";
export type { MqttStats } from "./stats.ts";
export {
  disconnectClient,
  explain,
  listClients,
  listSessions,
  type MqttClientInfo,
  type MqttExplanation,
  type MqttSessionInfo,
} from "./admin.ts";
export { type MqttWebSocketData, type MqttWebSocketHandlers, mqttWebSocketUpgrade } from "./websocket.ts";
