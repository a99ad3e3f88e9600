/**
 * Authentication and authorization hooks. The bridge has no user store of
 * its own: the composition root passes functions (src/config/mqtt-auth.ts for
 * CONNECT and SCRAM credentials, compileAcl (acl.ts) for the ACL hooks).
 * Without hooks every client is allowed (the listener then binds to loopback
 * by default; see the security notes).
 *
 * - CONNECT refused: v5 0x86 Bad User Name or Password / 0x87 Not authorized,
 *   3.1.1 return codes 0x04 / 0x05 [MQTT-3.2.2-6].
 * - PUBLISH not authorized: v5 PUBACK/PUBREC 0x87, QoS 0 dropped; 3.1.1 cannot
 *   refuse, so the message is acknowledged and dropped (as mosquitto does).
 * - SUBSCRIBE not authorized: 0x80 in that slot of the SUBACK, in 3.1.1 and 5.0.
 * - Delivery: a message is sent to a client only when canRead allows its topic
 *   (live, retained, reverse-mapped and shared-subscription deliveries).
 * - Enhanced authentication (v5 AUTH, enhanced-auth.ts): SCRAM-SHA-256/512 with
 *   the credentials scramCredential returns.
 */
import type { ScramCredential, ScramMechanism } from "../../src/util/scram.ts";

export interface MqttAuthRequest {
  clientId: string;
  username: string | null;
  password: Uint8Array | null;
  remoteAddress: string;
  protocolVersion: number;
}

export type MqttAuthResult =
  | { ok: true; user: string | null }
  | { ok: false; reason: "bad-credentials" | "not-authorized" };

export interface MqttAuth {
  authenticate?(req: MqttAuthRequest): MqttAuthResult | Promise<MqttAuthResult>;
  /** May this user publish to `topic` (also checked for wills)? */
  canPublish?(user: string | null, clientId: string, topic: string): boolean;
  /** May this user subscribe to `filter` (the filter as sent, including any $share prefix)? */
  canSubscribe?(user: string | null, clientId: string, filter: string): boolean;
  /** May this user receive a message published on `topic`? Checked on every delivery. */
  canRead?(user: string | null, clientId: string, topic: string): boolean;
  /**
   * SCRAM credential of `user` for enhanced authentication; null = unknown
   * user or no credential (a stored scram_sha_256/512 from `eddy passwd`, or one
   * derived from a plain-text password; a password_hash alone cannot answer SCRAM).
   * Without this hook an Authentication Method gets CONNACK 0x8C.
   */
  scramCredential?(mechanism: ScramMechanism, user: string): ScramCredential | null;
}
