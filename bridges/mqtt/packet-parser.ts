/**
 * mqtt-packet's parser, shared: one parser per protocol level for every
 * connection, fed one whole frame at a time (framing.ts), so it holds no
 * state between calls. A parser that reported an error or kept bytes after a
 * frame is thrown away and the next call gets a fresh one. A parser instance
 * keeps ~4 KB (about 30 buffers) once used, which per idle connection was
 * most of its memory.
 */
import mqttPacket, { type Packet } from "mqtt-packet";

type Parser = ReturnType<typeof mqttPacket.parser>;

const parsers = new Map<number, Parser>();
let parsed: Packet[] = [];
let failure: Error | null = null;

function parserFor(protocolVersion: number): Parser {
  let parser = parsers.get(protocolVersion);
  if (!parser) {
    parser = mqttPacket.parser({ protocolVersion });
    parser.on("packet", (packet: Packet) => parsed.push(packet));
    parser.on("error", (err: Error) => {
      failure ??= err;
    });
    parsers.set(protocolVersion, parser);
  }
  return parser;
}

/** Parse one complete control packet; `error` is mqtt-packet's complaint about a malformed one. */
export function parseFrame(
  frame: Uint8Array,
  protocolVersion: number,
): { packets: Packet[]; error: Error | null } {
  const parser = parserFor(protocolVersion);
  parsed = [];
  failure = null;
  const left = parser.parse(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
  const result = { packets: parsed, error: failure };
  if (failure !== null || left > 0) parsers.delete(protocolVersion);
  parsed = [];
  failure = null;
  return result;
}
