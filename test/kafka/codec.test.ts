import { describe, expect, it } from "bun:test";
import { EddyError } from "../../src/errors.ts";
import type { ApiCodec } from "../../src/kafka/protocol/api.ts";
import {
  readRequest,
  decodeRequestBody,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from "../../src/kafka/protocol/messages.ts";
import { Reader } from "../../src/kafka/protocol/reader.ts";
import { Writer } from "../../src/kafka/protocol/writer.ts";
import {
  API_CODECS,
  ApiVersions,
  DATA_CODECS,
  Fetch,
  Metadata,
  Produce,
  type ProduceRequest,
} from "../../src/kafka/generated/index.ts";
import { prng, SampleBuilder, SCHEMAS } from "./schema-samples.ts";

interface Case {
  label: string;
  version: number;
  schema: string;
  encode: (w: Writer, m: never, v: number) => void;
  decode: (r: Reader, v: number) => unknown;
}

function versions(c: { minVersion: number; maxVersion: number }): number[] {
  return Array.from({ length: c.maxVersion - c.minVersion + 1 }, (_, i) => c.minVersion + i);
}

const CASES: Case[] = [
  ...API_CODECS.flatMap((api: ApiCodec) =>
    versions(api).flatMap((v) => [
      {
        label: `${api.name}Request v${v}`,
        version: v,
        schema: `${api.name}Request`,
        encode: api.encodeRequest,
        decode: api.decodeRequest,
      },
      {
        label: `${api.name}Response v${v}`,
        version: v,
        schema: `${api.name}Response`,
        encode: api.encodeResponse,
        decode: api.decodeResponse,
      },
    ]),
  ),
  ...DATA_CODECS.flatMap((c) =>
    versions(c).map((v) => ({
      label: `${c.name} v${v}`,
      version: v,
      schema: c.name,
      encode: c.encode,
      decode: c.decode,
    })),
  ),
];

function encode(c: Case, m: unknown): Uint8Array {
  const w = new Writer(16);
  c.encode(w, m as never, c.version);
  return w.toBytes();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

/** Run `fn`; it may succeed, but anything it throws must be an EddyError. */
function onlyEddyErrors(fn: () => unknown): "ok" | "error" {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (!(err instanceof EddyError)) throw new Error(`non-EddyError escaped: ${String(err)}`);
    expect(["INVALID_REQUEST", "CORRUPT_RECORD"]).toContain(err.code);
    return "error";
  }
}

describe("generated codec round trips", () => {
  it("covers every API and data message", () => {
    expect(API_CODECS.length).toBeGreaterThan(80);
    expect(new Set(CASES.map((c) => c.schema))).toEqual(new Set(SCHEMAS.keys()));
    const expected = [...SCHEMAS.values()].reduce((n, m) => {
      const [lo, hi] = m.validVersions.split("-").map(Number);
      return n + (hi ?? lo!) - lo! + 1;
    }, 0);
    expect(CASES.length).toBe(expected);
  });

  it("encodes, decodes and re-encodes sample values of every message at every version", () => {
    const samples = new SampleBuilder(42);
    for (const c of CASES) {
      for (let round = 0; round < 3; round++) {
        const value = samples.message(SCHEMAS.get(c.schema)!, c.version);
        const bytes = encode(c, value);
        const r = new Reader(bytes);
        const decoded = c.decode(r, c.version);
        if (r.pos !== bytes.length) throw new Error(`${c.label}: decoder left ${bytes.length - r.pos} bytes`);
        try {
          expect(decoded).toEqual(value);
        } catch (err) {
          throw new Error(`${c.label} round ${round}: ${String(err)}`);
        }
        expect(hex(encode(c, decoded))).toBe(hex(bytes));
      }
    }
  });
});

describe("byte-exact encodings", () => {
  it("ApiVersionsRequest v3 with client software name and version (header v2)", () => {
    const frame = concat(
      encodeRequest(
        ApiVersions,
        { apiVersion: 3, correlationId: 1, clientId: "rdkafka" },
        { clientSoftwareName: "kcat", clientSoftwareVersion: "1.7.1" },
      ),
    );
    const header = "0012" + "0003" + "00000001" + "0007" + hex(Buffer.from("rdkafka")) + "00";
    const body = "05" + hex(Buffer.from("kcat")) + "06" + hex(Buffer.from("1.7.1")) + "00";
    expect(hex(frame)).toBe("0000001e" + header + body);
    const req = readRequest(frame.subarray(4));
    expect(req.header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: "rdkafka" });
    expect(decodeRequestBody(ApiVersions, req)).toEqual({
      clientSoftwareName: "kcat",
      clientSoftwareVersion: "1.7.1",
    });
  });

  it("MetadataRequest v0 (header v1, null client id)", () => {
    const body = {
      topics: [
        { topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: "a" },
        { topicId: "AAAAAAAAAAAAAAAAAAAAAA", name: "bc" },
      ],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    const frame = concat(encodeRequest(Metadata, { apiVersion: 0, correlationId: 7, clientId: null }, body));
    expect(hex(frame)).toBe("00000015" + "0003000000000007ffff" + "00000002" + "000161" + "00026263");
  });

  it("ProduceRequest v3 header and body", () => {
    const m: ProduceRequest = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30000,
      topicData: [{ name: "t", partitionData: [{ index: 0, records: Uint8Array.of(1, 2, 3) }] }],
    };
    const frame = concat(encodeRequest(Produce, { apiVersion: 3, correlationId: 2, clientId: "c" }, m));
    const expected =
      "0000000300000002000163" +
      "ffff" +
      "ffff" +
      "00007530" +
      "00000001" +
      "000174" +
      "00000001" +
      "00000000" +
      "00000003010203";
    expect(hex(frame.subarray(4))).toBe(expected);
    expect(frame.length - 4).toBe(expected.length / 2);
    expect(decodeRequestBody(Produce, readRequest(frame.subarray(4)))).toEqual(m);
  });

  it("ApiVersionsResponse v3 keeps response header v0 and writes tagged fields", () => {
    const body = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: 5,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    const frame = concat(encodeResponse(ApiVersions, { apiVersion: 3, correlationId: 9 }, body));
    const expected =
      "00000009" +
      "0000" +
      "02" +
      "0012" +
      "0000" +
      "0004" +
      "00" +
      "00000000" +
      "01" +
      "01" +
      "08" +
      "0000000000000005";
    expect(hex(frame)).toBe((expected.length / 2).toString(16).padStart(8, "0") + expected);
    expect(decodeResponse(ApiVersions, 3, frame.subarray(4))).toEqual({ correlationId: 9, body });
  });

  it("flexible responses carry response header v1 (an empty tag section after the correlation id)", () => {
    const body = new SampleBuilder(1).message(SCHEMAS.get("MetadataResponse")!, 9);
    const frame = concat(
      encodeResponse(Metadata, { apiVersion: 9, correlationId: 0x01020304 }, body as never),
    );
    expect(hex(frame.subarray(4, 9))).toBe("0102030400");
    const plain = concat(
      encodeResponse(Metadata, { apiVersion: 8, correlationId: 0x01020304 }, {
        ...body,
        throttleTimeMs: 0,
      } as never),
    );
    expect(hex(plain.subarray(4, 8))).toBe("01020304");
  });

  it("tagged fields larger than 127 bytes get a multi-byte size", () => {
    const features = Array.from({ length: 30 }, (_, i) => ({
      name: `feature-${i}`,
      minVersion: 1,
      maxVersion: 2,
    }));
    const body = {
      errorCode: 0,
      apiKeys: [],
      throttleTimeMs: 0,
      supportedFeatures: features,
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: true,
    };
    const w = new Writer(8);
    ApiVersions.encodeResponse(w, body, 3);
    const bytes = w.toBytes();
    expect(ApiVersions.decodeResponse(new Reader(bytes), 3)).toEqual(body);
  });

  it("large record batches are passed through as separate chunks, not copied", () => {
    const records = new Uint8Array(10_000).fill(7);
    const m: ProduceRequest = {
      transactionalId: "tx",
      acks: 1,
      timeoutMs: 1000,
      topicData: [{ name: "t", partitionData: [{ index: 3, records }] }],
    };
    const chunks = encodeRequest(Produce, { apiVersion: 9, correlationId: 1, clientId: "x" }, m);
    expect(chunks).toContain(records);
    const frame = concat(chunks);
    expect(new DataView(frame.buffer).getInt32(0)).toBe(frame.length - 4);
    const decoded = decodeRequestBody(Produce, readRequest(frame.subarray(4)));
    expect(decoded).toEqual(m);
    expect(decoded.topicData[0]!.partitionData[0]!.records!.buffer).toBe(frame.buffer);
  });
});

describe("runtime primitives", () => {
  it("round-trips primitives at their limits, compact and not", () => {
    const w = new Writer(1);
    w.writeUint16(65535);
    w.writeUint32(4294967295);
    w.writeInt64(-Number.MAX_SAFE_INTEGER);
    w.writeFloat64(-1.5e300);
    w.writeUnsignedVarint(300);
    w.writeString("ü".repeat(100), true);
    w.writeString(null, false, true);
    w.writeBlob(null, true, true);
    const r = new Reader(w.toBytes());
    expect([r.readUint16(), r.readUint32(), r.readInt64(), r.readFloat64(), r.readUnsignedVarint()]).toEqual([
      65535,
      4294967295,
      -Number.MAX_SAFE_INTEGER,
      -1.5e300,
      300,
    ]);
    expect([r.readString(true), r.readString(false, true), r.readBlob(true, true)]).toEqual([
      "ü".repeat(100),
      null,
      null,
    ]);
    expect(r.remaining).toBe(0);
    expect(() => new Writer().writeInt64(2 ** 53)).toThrow(EddyError);
    expect(() => new Writer().writeString("x".repeat(40_000), false)).toThrow(EddyError);
  });
});

describe("malformed input", () => {
  it("rejects an unsafe int64, a null in a non-nullable field and an over-long array", () => {
    const w = new Writer();
    w.writeInt32(0x00400000);
    w.writeInt32(0);
    expect(() => new Reader(w.toBytes()).readInt64()).toThrow(EddyError);
    expect(() => new Reader(Uint8Array.of(0xff, 0xff)).readString(false)).toThrow(
      "null in a non-nullable field",
    );
    expect(() => new Reader(Uint8Array.of(0, 0, 0, 9, 1)).readArray(false, 0, (r) => r.readInt8())).toThrow(
      EddyError,
    );
    expect(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xfe)).readBlob(false, true)).toThrow(
      "negative length",
    );
    const fetch = {
      ...new SampleBuilder(3).message(SCHEMAS.get("FetchRequest")!, 4),
      replicaState: { replicaId: 5, replicaEpoch: 1 },
    };
    expect(() => Fetch.encodeRequest(new Writer(), fetch as never, 4)).toThrow(
      "field ReplicaState cannot be sent at version 4",
    );
    expect(() =>
      Fetch.encodeRequest(
        new Writer(),
        { ...fetch, replicaState: { replicaId: -1, replicaEpoch: -1 } } as never,
        4,
      ),
    ).not.toThrow();
  });

  it("an unsupported version is UNSUPPORTED_VERSION", () => {
    const frame = concat(
      encodeRequest(
        ApiVersions,
        { apiVersion: 3, correlationId: 1, clientId: null },
        { clientSoftwareName: "", clientSoftwareVersion: "" },
      ),
    );
    frame[7] = 99;
    const req = readRequest(frame.subarray(4));
    expect(req.header.apiVersion).toBe(99);
    expect(() => decodeRequestBody(ApiVersions, req)).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_VERSION" }),
    );
  });

  it("random bytes into every decoder throw only EddyError", () => {
    const rand = prng(7);
    let errors = 0;
    for (const c of CASES) {
      for (const len of [0, 1, 3, 8, 17, 64]) {
        const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
        if (onlyEddyErrors(() => c.decode(new Reader(bytes), c.version)) === "error") errors++;
      }
    }
    expect(errors).toBeGreaterThan(CASES.length * 3);
  });

  it("every truncation of a valid message throws EddyError, and flipped bytes never escape as other errors", () => {
    const samples = new SampleBuilder(99);
    for (const c of CASES) {
      const bytes = encode(c, samples.message(SCHEMAS.get(c.schema)!, c.version));
      const step = Math.max(1, Math.floor(bytes.length / 40));
      for (let n = 0; n < bytes.length; n += step) {
        const cut = bytes.subarray(0, n);
        if (onlyEddyErrors(() => c.decode(new Reader(cut), c.version)) !== "error") {
          throw new Error(`${c.label}: a ${n}-byte prefix of ${bytes.length} decoded`);
        }
      }
      for (let i = 0; i < Math.min(bytes.length, 8); i++) {
        const flipped = Uint8Array.from(bytes);
        flipped[(i * 7919) % bytes.length]! ^= 0xff;
        onlyEddyErrors(() => c.decode(new Reader(flipped), c.version));
      }
    }
  });

  it("readRequest on garbage frames throws only EddyError", () => {
    for (let i = 0; i < 500; i++) {
      const frame = Uint8Array.from({ length: i % 40 }, (_, j) => (i * 31 + j * 17) & 0xff);
      onlyEddyErrors(() => {
        const req = readRequest(frame);
        if (req.api) decodeRequestBody(req.api, req);
      });
    }
  });
});
