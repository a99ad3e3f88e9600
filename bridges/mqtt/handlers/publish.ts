/**
 * Inbound PUBLISH, QoS 0/1/2.
 *
 * - Topic name: no wildcards [MQTT-3.3.2-2]; v5 Topic Alias: 0 or above our
 *   Topic Alias Maximum is 0x94 [MQTT-3.3.2-8/9]; an empty topic needs a known
 *   alias (section 3.3.2.3.4); a client must not send a Subscription Identifier
 *   [MQTT-3.3.4-6].
 * - Stored through the mapping into the log; PUBACK (QoS 1) and PUBREC
 *   (QoS 2) leave only once the record is durable under the topic's policy
 *   (produce acks=-1) [MQTT-4.3.2-2][MQTT-4.3.3-2].
 * - QoS 2: a packet id stored and awaiting PUBREL is not stored again; the
 *   duplicate is answered with PUBREC [MQTT-4.3.3-9]; PUBREL → PUBCOMP.
 * - Receive Maximum: more unacknowledged QoS 1/2 publishes than we announced
 *   is 0x93 [MQTT-3.3.4-9]. QoS 0 has no acknowledgement to pace it: past
 *   `maxInboundQos0` publishes not yet durable, the connection stops reading
 *   its socket until half of them are (Connection.trackStore).
 * - v5 failures are answered with a reason code in PUBACK/PUBREC; 3.1.1 has
 *   none, so the connection is closed and the client retries.
 * - Payload Format Indicator 1 with invalid UTF-8 → 0x99 (section 3.3.2.3.2, a MAY).
 * - Not authorized (auth hook): v5 0x87; 3.1.1 acknowledged and dropped (auth.ts).
 */
import type { IPublishPacket } from "mqtt-packet";
import { ERROR_TABLE, isEddyError } from "../../../src/broker/index.ts";
import { UnmappedTopicError } from "../bridge.ts";
import type { Connection } from "../connection.ts";
import { fromUserProperties, type MqttMessage } from "../message.ts";
import { inboundWire } from "../publish-encoder.ts";
import type { PlainPublishPacket } from "../publish-parser.ts";
import { MqttProtocolError, Reason } from "../reason-codes.ts";
import { isValidTopicName } from "../topic-filter.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const NO_PROPERTIES: NonNullable<IPublishPacket["properties"]> = Object.freeze({});
/** The user properties of a message without any (shared: never modified). */
const NO_PAIRS = Object.freeze([]) as unknown as Array<[string, string]>;

export function handlePublish(conn: Connection, packet: IPublishPacket): undefined {
  const props = packet.properties ?? NO_PROPERTIES;
  const options = conn.deps.options;
  let topic = packet.topic;
  if (props.topicAlias !== undefined) {
    const alias = props.topicAlias;
    if (alias === 0 || alias > options.topicAliasMaximum) {
      throw new MqttProtocolError(Reason.TOPIC_ALIAS_INVALID, `topic alias ${alias} is out of range`);
    }
    if (topic === "") {
      const known = conn.inboundAliases.get(alias);
      if (known === undefined)
        throw new MqttProtocolError(Reason.PROTOCOL_ERROR, `unknown topic alias ${alias}`);
      topic = known;
    } else conn.inboundAliases.set(alias, topic);
  }
  if (topic !== conn.validTopic) {
    if (!isValidTopicName(topic))
      throw new MqttProtocolError(Reason.TOPIC_NAME_INVALID, "invalid topic name");
    conn.validTopic = topic;
  }
  if (props.subscriptionIdentifier !== undefined) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "a client must not send a subscription identifier");
  }
  // A plain PUBLISH (publish-parser.ts) brings a Uint8Array payload, its topic bytes and its frame:
  // the record encoder and delivery reuse them.
  const plain = packet as Partial<PlainPublishPacket>;
  const frame = plain.frame;
  let payload: Uint8Array;
  if (frame !== undefined) payload = packet.payload as unknown as Uint8Array;
  else {
    const raw = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    payload = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  }
  const msg: MqttMessage = {
    topic,
    payload,
    qos: packet.qos,
    retain: packet.retain,
    clientId: conn.clientId,
    timestamp: conn.receivedAt,
    userProperties: props.userProperties === undefined ? NO_PAIRS : fromUserProperties(props.userProperties),
    wire: frame !== undefined ? inboundWire(plain.topicBytes!, frame, conn.protocolVersion === 5) : undefined,
  };
  if (props.contentType !== undefined) msg.contentType = props.contentType;
  if (props.payloadFormatIndicator) msg.payloadFormatUtf8 = true;
  if (props.responseTopic !== undefined) msg.responseTopic = props.responseTopic;
  if (props.correlationData !== undefined) msg.correlationData = new Uint8Array(props.correlationData);
  if (props.messageExpiryInterval !== undefined) msg.messageExpiry = props.messageExpiryInterval;

  let invalidPayload = false;
  if (msg.payloadFormatUtf8) {
    try {
      utf8.decode(msg.payload);
    } catch {
      invalidPayload = true;
    }
  }
  const session = conn.session!;
  const { bridge } = conn;
  const allowed = bridge.deps.auth.canPublish?.(conn.user, conn.clientId, topic) ?? true;
  bridge.stats.messagesIn[packet.qos]++;
  if (!allowed) bridge.stats.dropped.notAuthorized++;
  if (packet.qos === 0) {
    if (!invalidPayload && allowed) {
      conn.qos0Started();
      bridge.storeMessage(msg, conn.qos0Stored);
    }
    return undefined;
  }
  const id = packet.messageId!;
  if (packet.qos === 2) {
    const known = session.inboundQos2.get(id);
    if (known !== undefined) {
      void Promise.resolve(known).then((code) =>
        conn.send({ cmd: "pubrec", messageId: id, reasonCode: code }),
      );
      return undefined;
    }
  }
  // [MQTT-3.3.4-9] a v5 client must not exceed our Receive Maximum; 3.1.1 has none: its
  // input is paced instead (Connection.inboundStarted pauses reading at the same limit).
  if (
    conn.protocolVersion === 5 &&
    conn.inboundPending + session.inboundQos2.size >= options.receiveMaximum
  ) {
    throw new MqttProtocolError(Reason.RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded");
  }
  if (packet.qos === 1 && !invalidPayload && allowed) {
    conn.inboundStarted();
    bridge.storeMessage(msg, (err) => {
      conn.inboundSettled();
      answer(conn, "puback", id, err === null ? Reason.SUCCESS : failureReason(conn, err));
    });
    return undefined;
  }
  const stored: Promise<number> = invalidPayload
    ? Promise.resolve(Reason.PAYLOAD_FORMAT_INVALID)
    : !allowed
      ? Promise.resolve(conn.protocolVersion === 5 ? Reason.NOT_AUTHORIZED : Reason.SUCCESS)
      : conn.bridge.publish(msg).then(
          () => Reason.SUCCESS,
          (err) => failureReason(conn, err),
        );
  if (packet.qos === 1) {
    conn.inboundStarted();
    void stored.then((code) => {
      conn.inboundSettled();
      answer(conn, "puback", id, code);
    });
    return undefined;
  }
  // PUBREC waits until the packet id is saved with a persistent session, so that a
  // PUBLISH resent after a broker restart is not stored twice [MQTT-4.3.3-9].
  const recorded = stored.then(async (code) => {
    if (code < 0x80) await conn.bridge.saveSession(session);
    return code;
  });
  session.inboundQos2.set(id, recorded);
  void recorded.then((code) => {
    if (code >= 0x80) session.inboundQos2.delete(id);
    else if (session.inboundQos2.get(id) === recorded) session.inboundQos2.set(id, code);
    answer(conn, "pubrec", id, code);
  });
  return undefined;
}

function failureReason(conn: Connection, err: unknown): number {
  conn.bridge.stats.dropped.notStored++;
  if (err instanceof UnmappedTopicError) return Reason.TOPIC_NAME_INVALID;
  conn.deps.logger.warn("mqtt publish not stored", { err, clientId: conn.clientId });
  return isEddyError(err) ? ERROR_TABLE[err.code].mqtt : Reason.UNSPECIFIED_ERROR;
}

function answer(conn: Connection, cmd: "puback" | "pubrec", id: number, code: number): void {
  if (code >= 0x80 && conn.protocolVersion !== 5) {
    conn.close(); // 3.1.1 cannot refuse a message: drop the connection so the client resends.
    return;
  }
  if (code === 0) conn.sendPlainAck(cmd === "puback" ? 4 : 5, id);
  else conn.send({ cmd, messageId: id, reasonCode: code });
}
