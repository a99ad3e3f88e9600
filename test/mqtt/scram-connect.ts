/** MQTT 5 enhanced authentication from the client side: SCRAM over CONNECT / AUTH with MQTT.js. */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { IAuthPacket, IConnackPacket } from "mqtt-packet";
import { ScramClient, type ScramMechanism } from "../../src/util/scram.ts";
import type { RawClient } from "./raw-client.ts";

export const authText = (b: Buffer | undefined): string => (b ? b.toString("utf8") : "");

export type ScramConnect = (
  url: string,
  mechanism: ScramMechanism,
  user: string,
  password: string,
  extra?: IClientOptions,
) => Promise<{ client: MqttClient; connack: IConnackPacket; scram: ScramClient }>;

/**
 * A connect function: MQTT.js with handleAuth answering the server-first AUTH
 * with the client-final message. Every client goes into `clients` (the test
 * ends them); a refused connection rejects with the CONNACK error.
 */
export function scramConnector(clients: MqttClient[]): ScramConnect {
  return (url, mechanism, user, password, extra = {}) => {
    const scram = new ScramClient(mechanism, user, password);
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...extra,
      properties: {
        authenticationMethod: mechanism,
        authenticationData: Buffer.from(scram.first()),
      },
    });
    clients.push(client);
    client.handleAuth = (packet: IAuthPacket, cb) => {
      cb(undefined, {
        cmd: "auth",
        reasonCode: 0x18,
        properties: {
          authenticationMethod: mechanism,
          authenticationData: Buffer.from(scram.final(authText(packet.properties?.authenticationData))),
        },
      });
    };
    return new Promise((resolve, reject) => {
      client.once("connect", (connack) => resolve({ client, connack, scram }));
      client.once("error", reject);
    });
  };
}

/** Send a raw AUTH packet carrying a SCRAM message (0x18 continue, 0x19 re-authenticate). */
export function sendScramAuth(
  raw: Pick<RawClient, "send">,
  mechanism: ScramMechanism,
  reasonCode: 0x18 | 0x19,
  message: string,
): void {
  raw.send({
    cmd: "auth",
    reasonCode,
    properties: { authenticationMethod: mechanism, authenticationData: Buffer.from(message) },
  });
}
