/**
 * Golden bytes: request frames captured from kcat (librdkafka) and kafkajs
 * (test/kafka/golden/capture.ts → golden/frames.json). Each frame decodes
 * with the generated codec and re-encodes to the same bytes; replayed
 * against the listener, each gets a response that decodes with the
 * generated decoders and carries no error.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import type {
  ApiVersionsResponse,
  CreateTopicsResponse,
  DescribeConfigsResponse,
  FetchResponse,
  ListOffsetsResponse,
  MetadataResponse,
  ProduceResponse,
} from "../../src/kafka/generated/index.ts";
import {
  decodeRequestBody,
  decodeResponse,
  encodeRequest,
  readRequest,
} from "../../src/kafka/protocol/messages.ts";
import type { GoldenFrame } from "./golden/capture.ts";
import { createKafkaHarness, type KafkaHarness, type RawClient } from "./server-harness.ts";

const FRAMES = JSON.parse(
  fs.readFileSync(path.join(import.meta.dir, "golden/frames.json"), "utf8"),
) as GoldenFrame[];
/** Replay order: the topics exist before they are listed, fetched or described. */
const ORDER = [
  "ApiVersions",
  "Metadata",
  "CreateTopics",
  "Produce",
  "ListOffsets",
  "Fetch",
  "DescribeConfigs",
];

let h: KafkaHarness;
let c: RawClient;
beforeAll(async () => {
  h = await createKafkaHarness({ autoCreateTopics: true });
  c = await h.connect();
});
afterAll(async () => {
  await h.close();
});

describe("golden request frames from real clients", () => {
  it("cover the clients and APIs captured", () => {
    const clients = new Set(FRAMES.map((f) => f.client));
    for (const name of ["kcat", "kcat-gzip", "kcat-snappy", "kcat-lz4", "kcat-zstd", "kafkajs"]) {
      expect(clients.has(name)).toBe(true);
    }
    expect(FRAMES.every((f) => ORDER.includes(f.api))).toBe(true);
  });

  it("decode with the generated codec and re-encode to the same bytes", () => {
    for (const f of FRAMES) {
      const frame = Buffer.from(f.hex, "hex");
      const req = readRequest(frame);
      expect(req.api?.name).toBe(f.api);
      const body = decodeRequestBody(req.api!, req);
      expect(req.reader.remaining).toBe(0);
      const { apiKey: _k, ...header } = req.header;
      const again = Buffer.concat(encodeRequest(req.api!, header, body));
      expect({
        frame: `${f.client} ${f.api} v${f.apiVersion}`,
        hex: again.subarray(4).toString("hex"),
      }).toEqual({
        frame: `${f.client} ${f.api} v${f.apiVersion}`,
        hex: f.hex,
      });
    }
  });

  it("replayed against the listener, get error-free responses that decode", async () => {
    const sorted = [...FRAMES].sort((a, b) => ORDER.indexOf(a.api) - ORDER.indexOf(b.api));
    for (const f of sorted) {
      const frame = Buffer.from(f.hex, "hex");
      const req = readRequest(frame);
      const size = Buffer.alloc(4);
      size.writeInt32BE(frame.length);
      await c.writeRaw(Buffer.concat([size, frame]));
      const raw = await c.nextFrame();
      expect(raw).not.toBeNull();
      const label = `${f.client} ${f.api} v${f.apiVersion}`;
      const { correlationId, body } = decodeResponse(req.api!, f.apiVersion, raw!);
      expect({ label, correlationId }).toEqual({ label, correlationId: req.header.correlationId });
      const errors: number[] = [];
      if (f.api === "ApiVersions") errors.push((body as ApiVersionsResponse).errorCode);
      if (f.api === "Metadata") {
        const m = body as MetadataResponse;
        expect(m.brokers).toHaveLength(1);
        errors.push(...m.topics.map((t) => t.errorCode));
      }
      if (f.api === "CreateTopics") {
        errors.push(
          ...(body as CreateTopicsResponse).topics.map((t) => (t.errorCode === 36 ? 0 : t.errorCode)),
        );
      }
      if (f.api === "Produce") {
        for (const t of (body as ProduceResponse).responses) {
          errors.push(...t.partitionResponses.map((p) => p.errorCode));
        }
      }
      if (f.api === "ListOffsets") {
        for (const t of (body as ListOffsetsResponse).topics)
          errors.push(...t.partitions.map((p) => p.errorCode));
      }
      if (f.api === "Fetch") {
        for (const t of (body as FetchResponse).responses)
          errors.push(...t.partitions.map((p) => p.errorCode));
      }
      if (f.api === "DescribeConfigs") {
        const d = body as DescribeConfigsResponse;
        errors.push(...d.results.map((r) => r.errorCode));
        expect(d.results[0]!.configs.length).toBeGreaterThan(0);
      }
      expect({ label, errors: errors.filter((e) => e !== 0) }).toEqual({ label, errors: [] });
    }
  });
});
