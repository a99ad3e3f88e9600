/**
 * Topic ids: Eddy stores RFC 4122 text ("8c1e…-…"); Kafka carries the same 16
 * bytes on the wire, which the generated codec shows as 22 characters of
 * base64url without padding (Kafka's Uuid.toString()).
 */
import { ZERO_UUID } from "../protocol/values.ts";

export { ZERO_UUID };

export function toKafkaTopicId(uuid: string): string {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return ZERO_UUID;
  return Buffer.from(hex, "hex").toString("base64url");
}

export function fromKafkaTopicId(id: string): string | null {
  const bytes = Buffer.from(id, "base64url");
  if (bytes.length !== 16) return null;
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
