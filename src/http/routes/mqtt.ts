/**
 * MQTT operator endpoints, served when the MQTT listener runs (otherwise 404
 * saying how to turn it on): connected clients, sessions with their backlog,
 * disconnecting a client (v5: DISCONNECT 0x98 Administrative action), and a
 * mapping dry-run — where a PUBLISH to an MQTT topic would be stored and who
 * would receive it. The data comes from an `MqttAdmin` provider (plain
 * functions; src/main.ts adapts the MQTT bridge), so src/http knows no bridge.
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../../errors.ts";
import type { ApiRouter } from "../openapi.ts";

export const mqttClientSchema = z.object({
  clientId: z.string(),
  user: z.string().nullable(),
  protocolVersion: z.number().int().describe("4 = MQTT 3.1.1, 5 = MQTT 5.0"),
  remoteAddress: z.string(),
  keepAlive: z.number().int().describe("Seconds"),
  subscriptions: z.number().int(),
  inflight: z.number().int(),
  queuedBytes: z.number().int(),
});

export const mqttSessionSchema = z.object({
  clientId: z.string(),
  connected: z.boolean(),
  expiryInterval: z.number().int().describe("Seconds; 4294967295 = never"),
  disconnectedAt: z.number().nullable(),
  subscriptions: z.array(z.object({ filter: z.string(), qos: z.number().int() })),
  inflight: z.number().int(),
  backlog: z.number().int().describe("Records not yet read from the followed partitions"),
});

export const mqttExplanationSchema = z.object({
  topic: z.string(),
  stored: z
    .object({ streamTopic: z.string(), key: z.string().nullable(), partition: z.number().int() })
    .nullable()
    .describe("Where the PUBLISH is stored; null when no mapping rule takes it (refused)"),
  subscribers: z.array(
    z.object({
      clientId: z.string(),
      filter: z.string(),
      qos: z.number().int(),
      connected: z.boolean(),
      authorized: z
        .boolean()
        .optional()
        .describe("false: the MQTT ACL does not let this client read the topic (not delivered)"),
    }),
  ),
  sharedGroups: z.array(z.object({ group: z.string(), filter: z.string(), members: z.number().int() })),
});

export type MqttClientView = z.output<typeof mqttClientSchema>;
export type MqttSessionView = z.output<typeof mqttSessionSchema>;
export type MqttExplanationView = z.output<typeof mqttExplanationSchema>;

/** What the MQTT endpoints read; src/main.ts implements it over the MQTT bridge. */
export interface MqttAdmin {
  clients(): MqttClientView[];
  sessions(): MqttSessionView[];
  /** false when no client with that id is connected. */
  disconnect(clientId: string): boolean;
  explain(topic: string): Promise<MqttExplanationView>;
}

const notEnabled = (): EddyError =>
  new EddyError(
    ErrorCode.NOT_FOUND,
    "MQTT is not enabled on this broker: set listeners.mqtt (or --mqtt-listen HOST:PORT) and restart",
  );

export function registerMqttRoutes(router: ApiRouter, mqtt: MqttAdmin | undefined): void {
  const admin = (): MqttAdmin => {
    if (!mqtt) throw notEnabled();
    return mqtt;
  };
  router.add(
    {
      method: "get",
      path: "/v1/mqtt/clients",
      tag: "mqtt",
      summary: "Connected MQTT clients (TCP, TLS and WebSocket)",
      responses: {
        200: { description: "Clients", schema: z.object({ clients: z.array(mqttClientSchema) }) },
      },
    },
    (c) => c.json({ clients: admin().clients() }),
  );
  router.add(
    {
      method: "get",
      path: "/v1/mqtt/sessions",
      tag: "mqtt",
      summary: "MQTT sessions (connected and persistent) with subscriptions and backlog",
      responses: {
        200: { description: "Sessions", schema: z.object({ sessions: z.array(mqttSessionSchema) }) },
      },
    },
    (c) => c.json({ sessions: admin().sessions() }),
  );
  router.add(
    {
      method: "delete",
      path: "/v1/mqtt/clients/{clientId}",
      tag: "mqtt",
      summary: "Disconnect a client (its persistent session stays)",
      params: z.object({ clientId: z.string().min(1) }),
      responses: {
        200: {
          description: "Disconnected",
          schema: z.object({ clientId: z.string(), disconnected: z.literal(true) }),
        },
        404: { description: "No client with that id is connected" },
      },
    },
    (c, { params }) => {
      if (!admin().disconnect(params.clientId)) {
        throw new EddyError(
          ErrorCode.NOT_FOUND,
          `no MQTT client '${params.clientId}' is connected: see GET /v1/mqtt/clients`,
          { clientId: params.clientId },
        );
      }
      return c.json({ clientId: params.clientId, disconnected: true as const });
    },
  );
  router.add(
    {
      method: "get",
      path: "/v1/mqtt/explain",
      tag: "mqtt",
      summary: "Mapping dry-run: where a PUBLISH to an MQTT topic is stored and who receives it",
      query: z.object({
        topic: z
          .string({ error: "give the MQTT topic as ?topic=" })
          .min(1, { error: "give the MQTT topic as ?topic=" }),
      }),
      responses: { 200: { description: "The explanation", schema: mqttExplanationSchema } },
    },
    async (c, { query }) => c.json(await admin().explain(query.topic)),
  );
}
