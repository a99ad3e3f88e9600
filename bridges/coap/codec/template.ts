/**
 * Pre-encoded notification templates (RFC 7641 fan-out): the options and
 * payload of a notification are encoded once per record; each observer's
 * datagram is the template with its own type, message id, token and Observe
 * value patched in. Observe (6) is the only option that differs, so the
 * template keeps the options below 6 and the options above it (delta-encoded
 * from 6) as two byte runs around it.
 */
import { type CoapOption, type MessageType, OptionNumber } from "./constants.ts";
import { encodeMessage } from "./encode.ts";

export interface NotificationTemplate {
  code: number;
  /** Encoded options numbered below Observe (delta from 0). */
  pre: Uint8Array;
  /** The number of the last option in `pre` (0 when none). */
  preLast: number;
  /** Encoded options above Observe (delta from Observe), the payload marker and the payload. */
  post: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function makeTemplate(code: number, options: CoapOption[], payload: Uint8Array): NotificationTemplate {
  const before = options.filter((o) => o.number < OptionNumber.OBSERVE);
  const after = options.filter((o) => o.number > OptionNumber.OBSERVE);
  const head = { type: 0 as MessageType, code, messageId: 0, token: EMPTY };
  const pre = encodeMessage({ ...head, options: before, payload: EMPTY }).subarray(4);
  // An empty Observe option first (one byte, 0x60) anchors the deltas of the options after it.
  const post = encodeMessage({
    ...head,
    options: [{ number: OptionNumber.OBSERVE, value: EMPTY }, ...after],
    payload,
  }).subarray(5);
  let preLast = 0;
  for (const o of before) preLast = Math.max(preLast, o.number);
  return { code, pre, preLast, post };
}

/** The datagram of one notification: the template with type, id, token and Observe value. */
export function encodeFromTemplate(
  t: NotificationTemplate,
  type: MessageType,
  messageId: number,
  token: Uint8Array,
  observe: number,
): Uint8Array {
  const obsLen = observe === 0 ? 0 : observe < 0x100 ? 1 : observe < 0x10000 ? 2 : 3;
  const out = new Uint8Array(4 + token.length + t.pre.length + 1 + obsLen + t.post.length);
  out[0] = 0x40 | (type << 4) | token.length;
  out[1] = t.code;
  out[2] = messageId >> 8;
  out[3] = messageId & 0xff;
  out.set(token, 4);
  let pos = 4 + token.length;
  out.set(t.pre, pos);
  pos += t.pre.length;
  out[pos++] = ((OptionNumber.OBSERVE - t.preLast) << 4) | obsLen;
  for (let i = obsLen - 1; i >= 0; i--) out[pos++] = (observe >> (8 * i)) & 0xff;
  out.set(t.post, pos);
  return out;
}
