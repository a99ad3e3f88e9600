import { describe, expect, it } from "bun:test";
import { decodeCbor, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import {
  type CoapMessage,
  Code,
  codeString,
  MessageType,
  OptionNumber,
  parseCodeString,
} from "../../bridges/coap/codec/constants.ts";
import { CoapParseError, decodeMessage, ParseFailure } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import {
  decodeBlock,
  decodeUint,
  encodeBlock,
  encodeUint,
  stringOption,
  uintOption,
  uriPath,
  uriQuery,
} from "../../bridges/coap/codec/options.ts";
import { EddyError } from "../../src/errors.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

function parseError(buf: Uint8Array): CoapParseError {
  try {
    decodeMessage(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(CoapParseError);
    return err as CoapParseError;
  }
  throw new Error("expected a parse error");
}

/** A small deterministic PRNG (mulberry32) so fuzz failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("CoAP codec", () => {
  it("decodes the RFC 7252 GET example byte for byte", () => {
    // CON GET, mid 0x7d34, token 0x71, Uri-Path "temperature"
    const buf = bytes(0x41, 0x01, 0x7d, 0x34, 0x71, 0xbb, ...new TextEncoder().encode("temperature"));
    const msg = decodeMessage(buf);
    expect(msg.type).toBe(MessageType.CON);
    expect(msg.code).toBe(Code.GET);
    expect(msg.messageId).toBe(0x7d34);
    expect([...msg.token]).toEqual([0x71]);
    expect(uriPath(msg)).toEqual(["temperature"]);
    expect(msg.payload.length).toBe(0);
    expect([...encodeMessage(msg)]).toEqual([...buf]);
  });

  it("round-trips options with 1- and 2-byte extended deltas and lengths", () => {
    const long = new Uint8Array(300).fill(7);
    const msg: CoapMessage = {
      type: MessageType.NON,
      code: Code.PUT,
      messageId: 65535,
      token: bytes(1, 2, 3, 4, 5, 6, 7, 8),
      options: [
        uintOption(OptionNumber.SIZE1, 5000),
        stringOption(OptionNumber.URI_PATH, "ps"),
        stringOption(OptionNumber.URI_PATH, "data"),
        { number: OptionNumber.ECHO, value: long.slice(0, 40) },
        { number: OptionNumber.REQUEST_TAG, value: bytes(9) },
        { number: 2000, value: long },
        uintOption(OptionNumber.CONTENT_FORMAT, 0),
        stringOption(OptionNumber.URI_QUERY, "offset=5"),
      ],
      payload: new TextEncoder().encode("hello"),
    };
    const back = decodeMessage(encodeMessage(msg));
    expect(back.options.map((o) => o.number)).toEqual([11, 11, 12, 15, 60, 252, 292, 2000]);
    expect(uriPath(back)).toEqual(["ps", "data"]);
    expect(uriQuery(back).get("offset")).toBe("5");
    expect(back.options.find((o) => o.number === 2000)?.value).toEqual(long);
    expect(back.options.find((o) => o.number === 12)?.value.length).toBe(0);
    expect(new TextDecoder().decode(back.payload)).toBe("hello");
    expect(back.token).toEqual(msg.token);
  });

  it("uint, block and code helpers", () => {
    for (const n of [0, 1, 255, 256, 65535, 65536, 0xffffff, 0xffffffff])
      expect(decodeUint(encodeUint(n))).toBe(n);
    expect(encodeUint(0).length).toBe(0);
    const b = { num: 1000, more: true, szx: 6 };
    expect(decodeBlock(encodeBlock(b))).toEqual(b);
    expect(decodeBlock(bytes(0x0f))).toBeUndefined(); // szx 7 reserved
    expect(codeString(Code.CONTENT)).toBe("2.05");
    expect(parseCodeString("4.29")).toBe(Code.TOO_MANY_REQUESTS);
    expect(parseCodeString("9.99")).toBeNaN();
  });

  it("rejects each message format error with a typed error", () => {
    expect(parseError(bytes(0x41, 1)).reason).toBe(ParseFailure.TOO_SHORT);
    expect(parseError(bytes(0x81, 1, 0, 1, 0)).reason).toBe(ParseFailure.BAD_VERSION);
    const tkl = parseError(bytes(0x49, 1, 0x12, 0x34));
    expect(tkl.reason).toBe(ParseFailure.BAD_TOKEN_LENGTH);
    expect(tkl.header).toEqual({ type: MessageType.CON, code: 1, messageId: 0x1234 });
    expect(parseError(bytes(0x41, 0, 0, 1, 9)).reason).toBe(ParseFailure.EMPTY_NOT_EMPTY);
    expect(parseError(bytes(0x40, 0, 0, 1, 0xff)).reason).toBe(ParseFailure.EMPTY_NOT_EMPTY);
    expect(parseError(bytes(0x40, 1, 0, 1, 0xff)).reason).toBe(ParseFailure.EMPTY_PAYLOAD);
    expect(parseError(bytes(0x40, 1, 0, 1, 0xf1, 0)).reason).toBe(ParseFailure.BAD_OPTION);
    expect(parseError(bytes(0x40, 1, 0, 1, 0x1f)).reason).toBe(ParseFailure.BAD_OPTION);
    expect(parseError(bytes(0x40, 1, 0, 1, 0xb5, 0x61)).reason).toBe(ParseFailure.TRUNCATED_OPTION);
    expect(parseError(bytes(0x40, 1, 0, 1, 0xd0)).reason).toBe(ParseFailure.TRUNCATED_OPTION);
    expect(parseError(bytes(0x40, 1, 0, 1, 0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff)).reason).toBe(
      ParseFailure.BAD_OPTION,
    );
  });

  it("fuzz: random and mutated datagrams throw only CoapParseError", () => {
    const rand = prng(0xc0a9);
    const valid = encodeMessage({
      type: MessageType.CON,
      code: Code.POST,
      messageId: 7,
      token: bytes(1, 2),
      options: [stringOption(11, "ps"), stringOption(11, "data"), uintOption(27, 0x0e), uintOption(60, 2000)],
      payload: new Uint8Array(20).fill(1),
    });
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let buf: Uint8Array;
      if (i % 2 === 0) {
        buf = new Uint8Array(Math.floor(rand() * 64));
        for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
        if (buf.length > 0) buf[0] = (buf[0]! & 0x3f) | 0x40; // mostly version 1
      } else {
        buf = valid.slice(0, Math.max(0, valid.length - Math.floor(rand() * 8)));
        for (let k = 0; k < 3; k++) {
          if (buf.length > 0) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
        }
      }
      try {
        const msg = decodeMessage(buf);
        decoded++;
        // Whatever decodes must re-encode and decode to the same message.
        expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
      } catch (err) {
        if (!(err instanceof CoapParseError)) throw err;
      }
    }
    expect(decoded).toBeGreaterThan(100);
  });
});

describe("CBOR subset", () => {
  it("round-trips the values the pub/sub resources use", () => {
    const v = new Map<number | string, import("../../bridges/coap/codec/cbor.ts").CborValue>([
      [0, "living-room"],
      [2, "core.ps.data"],
      [3, 60],
      [5, { tag: 1, value: 1680393599 }],
      [8, bytes(0x80)],
      ["neg", -500],
      ["big", 2 ** 40],
      ["list", [true, false, null, "x"]],
    ]);
    expect(decodeCbor(encodeCbor(v))).toEqual(v);
    expect([...encodeCbor(new Map([[0, "a"]]))]).toEqual([0xa1, 0x00, 0x61, 0x61]);
  });

  it("rejects malformed and unsupported input with EddyError only", () => {
    for (const b of [
      bytes(),
      bytes(0x61),
      bytes(0x9f),
      bytes(0xf9, 0, 0),
      bytes(0x01, 0x02),
      bytes(0x62, 0xff, 0xfe),
    ]) {
      expect(() => decodeCbor(b)).toThrow(EddyError);
    }
    const rand = prng(42);
    for (let i = 0; i < 5000; i++) {
      const buf = new Uint8Array(Math.floor(rand() * 24));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      try {
        decodeCbor(buf);
      } catch (err) {
        if (!(err instanceof EddyError)) throw err;
      }
    }
  });
});
