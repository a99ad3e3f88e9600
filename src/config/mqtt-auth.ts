/**
 * Who may CONNECT over MQTT (TCP, TLS, WebSocket), from [auth]; src/main.ts
 * hands the result to the MQTT bridge as its `authenticate` hook (the
 * structural type of bridges/mqtt/auth.ts: config cannot import a bridge).
 *
 * - `auth.users` configured: CONNECT must carry a user name and password that
 *   CredentialStore.verifyPassword accepts; otherwise CONNACK 0x86 Bad User
 *   Name or Password (3.1.1: return code 4). A CONNECT without a user name is
 *   accepted only when `auth.allow_anonymous` is true (as an anonymous client).
 * - No users: clients are anonymous (user null: a claimed user name is not
 *   trusted, so per-user ACL rules and %u patterns never apply to it),
 *   and accepted from loopback addresses only unless `auth.allow_anonymous`
 *   (mosquitto 2.0's rule); others get 0x87 Not authorized (3.1.1: 5). The
 *   listener's own address is checked at start-up (load.ts checkListeners);
 *   this also covers MQTT over WebSocket on an exposed HTTP listener.
 * - SCRAM-SHA-256/512 (MQTT 5 enhanced authentication): `mqttScramCredentials`
 *   serves the stored scram_sha_256 / scram_sha_512 of [auth.users] (made by
 *   `eddy passwd`), or derives credentials (random salt, 4096 iterations, once
 *   per listener) for users with a plain-text `password`, as the Kafka
 *   listener's SASL SCRAM does. Users with only a `password_hash` cannot use
 *   SCRAM (CONNACK 0x86, and a warning in the log saying how to fix it).
 */
import type { Logger } from "../observability/logger.ts";
import { CredentialStore } from "../util/credentials.ts";
import { type ScramCredential, type ScramMechanism, type ScramUserEntry, ScramUsers } from "../util/scram.ts";
import { isLoopbackHost } from "./listen.ts";

export interface MqttConnectRequest {
  username: string | null;
  password: Uint8Array | null;
  remoteAddress: string;
}

export type MqttConnectResult =
  | { ok: true; user: string | null }
  | { ok: false; reason: "bad-credentials" | "not-authorized" };

export interface MqttAuthenticator {
  authenticate(req: MqttConnectRequest): Promise<MqttConnectResult>;
}

const decoder = new TextDecoder();

export function mqttAuthenticator(opts: {
  credentials: CredentialStore;
  allowAnonymous: boolean;
}): MqttAuthenticator {
  const { credentials, allowAnonymous } = opts;
  return {
    async authenticate(req) {
      if (credentials.userCount === 0) {
        if (allowAnonymous || isLoopbackAddress(req.remoteAddress)) return { ok: true, user: null };
        return { ok: false, reason: "not-authorized" };
      }
      if (req.username === null || req.username === "") {
        return allowAnonymous ? { ok: true, user: null } : { ok: false, reason: "bad-credentials" };
      }
      const password = req.password ? decoder.decode(req.password) : "";
      const ok = await credentials.verifyPassword(req.username, password);
      return ok ? { ok: true, user: req.username } : { ok: false, reason: "bad-credentials" };
    },
  };
}

/** A peer address on this host (IPv4 127/8, ::1, IPv4-mapped 127/8). */
export function isLoopbackAddress(address: string): boolean {
  return isLoopbackHost(address.replace(/^\[|\]$/g, ""));
}

/**
 * The `scramCredential` hook of the MQTT bridge: stored scram_sha_256 /
 * scram_sha_512 of [auth.users], else credentials derived from a plain-text
 * password (ScramUsers). A user with only a password hash has none: the
 * exchange fails with CONNACK 0x86 and `logger` tells the operator how to
 * add one. Given a CredentialStore, only its plain-text users can use SCRAM.
 */
export function mqttScramCredentials(
  source: CredentialStore | Readonly<Record<string, ScramUserEntry>>,
  opts: { logger?: Logger } = {},
): (mechanism: ScramMechanism, user: string) => ScramCredential | null {
  const users =
    source instanceof CredentialStore
      ? new ScramUsers(new Map([...source.plaintextPasswords()].map(([u, password]) => [u, { password }])))
      : new ScramUsers(source);
  return (mechanism, user) => {
    const credential = users.lookup(mechanism, user);
    if (credential === null && opts.logger !== undefined) {
      const hint = users.hint(mechanism, user);
      if (hint !== null) opts.logger.warn(`mqtt: ${hint}`, { mechanism, user });
    }
    return credential;
  };
}
