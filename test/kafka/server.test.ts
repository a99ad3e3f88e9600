/**
 * The Kafka listener over raw frames: ApiVersions (incl. an unknown version),
 * ordering of pipelined responses, acks=0, multi-batch produce, old message
 * formats, malformed frames (only that connection closes), fuzzed frames
 * (the listener survives, memory stays bounded).
 */
import { afterEach, describe, expect, it } from "bun:test";
import { decodeRecords } from "../../src/broker/index.ts";
import { ApiVersions, Fetch, Metadata, Produce } from "../../src/kafka/generated/index.ts";
import { ADVERTISED_APIS } from "../../src/kafka/handlers/index.ts";
import { createKafkaHarness, type KafkaHarness } from "./server-harness.ts";
import { batchOf, fetchBody, metadataBody, produceBody } from "./server-requests.ts";

let h: KafkaHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const td = new TextDecoder();
const values = (records: Uint8Array | null, from = 0) =>
  decodeRecords(records ?? new Uint8Array(0), from).map((r) => td.decode(r.value ?? new Uint8Array(0)));

describe("kafka listener: ApiVersions", () => {
  it("advertises the registry's ranges, including the low minimums librdkafka needs", async () => {
    h = await createKafkaHarness();
    const c = await h.connect();
    const res = await c.request(ApiVersions, 3, {
      clientSoftwareName: "eddy-test",
      clientSoftwareVersion: "1.0",
    });
    expect(res.errorCode).toBe(0);
    expect(res.apiKeys).toEqual(ADVERTISED_APIS.map((a) => ({ ...a })));
    const range = (key: number) => res.apiKeys.find((k) => k.apiKey === key);
    expect(range(18)).toEqual({ apiKey: 18, minVersion: 0, maxVersion: 3 });
    expect(range(0)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 9 });
    expect(range(1)).toEqual({ apiKey: 1, minVersion: 4, maxVersion: 12 });
    expect(range(3)).toEqual({ apiKey: 3, minVersion: 0, maxVersion: 12 });
  });

  it("answers an unknown ApiVersions version with UNSUPPORTED_VERSION and the list, at v0", async () => {
    h = await createKafkaHarness();
    const c = await h.connect();
    // v4 exists in the codec but is not advertised; v0 has no body, so any version's frame decodes as v0.
    const id = await c.send(ApiVersions, 4, { clientSoftwareName: "x", clientSoftwareVersion: "y" });
    const res = await c.receive(ApiVersions, 0);
    expect(res.correlationId).toBe(id);
    expect(res.body.errorCode).toBe(35);
    expect(res.body.apiKeys.length).toBe(ADVERTISED_APIS.length);
    // The connection stays usable.
    expect(
      (await c.request(ApiVersions, 0, { clientSoftwareName: "", clientSoftwareVersion: "" })).errorCode,
    ).toBe(0);
  });

  it("answers a version outside the advertised range with UNSUPPORTED_VERSION in the API's own terms", async () => {
    h = await createKafkaHarness();
    const c = await h.connect();
    const res = await c.request(Fetch, 3, fetchBody("t", 0));
    expect(res.responses[0]!.partitions[0]!.errorCode).toBe(35);
  });
});

describe("kafka listener: ordering and acks", () => {
  it("answers pipelined requests in request order while a long-poll fetch waits", async () => {
    h = await createKafkaHarness();
    await h.broker.createTopic({ name: "pipe", partitions: 1 });
    const c = await h.connect();
    // 1: a fetch that waits for data; 2: metadata (fast); 3: a produce that wakes the fetch.
    const fetchId = await c.send(Fetch, 11, fetchBody("pipe", 0, { maxWaitMs: 3000, minBytes: 1 }));
    const metaId = await c.send(Metadata, 9, metadataBody(["pipe"]));
    const produceId = await c.send(Produce, 9, produceBody("pipe", batchOf(["a", "b"])));
    const first = await c.receive(Fetch, 11);
    expect(first.correlationId).toBe(fetchId);
    expect(values(first.body.responses[0]!.partitions[0]!.records)).toEqual(["a", "b"]);
    const second = await c.receive(Metadata, 9);
    expect(second.correlationId).toBe(metaId);
    expect(second.body.topics[0]!.name).toBe("pipe");
    const third = await c.receive(Produce, 9);
    expect(third.correlationId).toBe(produceId);
    expect(third.body.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
  });

  it("sends no response to acks=0 produce, but appends", async () => {
    h = await createKafkaHarness();
    await h.broker.createTopic({ name: "fire", partitions: 1 });
    const c = await h.connect();
    await c.send(Produce, 7, produceBody("fire", batchOf(["x"]), { acks: 0 }));
    await c.send(Produce, 7, produceBody("fire", batchOf(["y"]), { acks: 0 }));
    const metaId = await c.send(Metadata, 1, metadataBody(["fire"]));
    const next = await c.receive(Metadata, 1);
    expect(next.correlationId).toBe(metaId);
    expect(h.broker.partitionState("fire", 0).highWatermark).toBe(2);
  });

  it("appends every batch of one records field in order and reports the first base offset", async () => {
    h = await createKafkaHarness();
    await h.broker.createTopic({ name: "multi", partitions: 1 });
    const c = await h.connect();
    await c.request(Produce, 8, produceBody("multi", batchOf(["0"])));
    const two = Buffer.concat([batchOf(["1", "2"]), batchOf(["3"])]);
    const res = await c.request(Produce, 8, produceBody("multi", two));
    const p = res.responses[0]!.partitionResponses[0]!;
    expect(p.errorCode).toBe(0);
    expect(p.baseOffset).toBe(1);
    const fetched = await c.request(Fetch, 8, fetchBody("multi", 0));
    expect(values(fetched.responses[0]!.partitions[0]!.records)).toEqual(["0", "1", "2", "3"]);
  });

  it("refuses message formats before v2 and corrupt batches per partition", async () => {
    h = await createKafkaHarness();
    await h.broker.createTopic({ name: "old", partitions: 1 });
    const c = await h.connect();
    // A magic-1 message set entry: offset, size, crc, magic=1, attributes, timestamp, key, value.
    const v1 = Buffer.alloc(12 + 4 + 1 + 1 + 8 + 4 + 4 + 1);
    v1.writeInt32BE(v1.length - 12, 8);
    v1[16] = 1;
    v1.writeInt32BE(-1, 26);
    v1.writeInt32BE(1, 30);
    const old = await c.request(Produce, 2, produceBody("old", v1));
    expect(old.responses[0]!.partitionResponses[0]!.errorCode).toBe(43);
    const batch = batchOf(["ok"]);
    const corrupt = batch.slice();
    corrupt[corrupt.length - 1]! ^= 0xff;
    const bad = await c.request(Produce, 8, produceBody("old", corrupt));
    expect(bad.responses[0]!.partitionResponses[0]!.errorCode).toBe(2);
    expect(bad.responses[0]!.partitionResponses[0]!.errorMessage).toContain("CRC");
    const truncated = await c.request(Produce, 8, produceBody("old", batch.subarray(0, 40)));
    expect(truncated.responses[0]!.partitionResponses[0]!.errorCode).toBe(2);
    expect(h.broker.partitionState("old", 0).highWatermark).toBe(0);
  });
});

describe("kafka listener: bad input", () => {
  it("closes only the connection that sent a malformed frame", async () => {
    h = await createKafkaHarness();
    const good = await h.connect();
    const bad = await h.connect();
    // Unknown API key 999.
    await bad.writeRaw(new Uint8Array([0, 0, 0, 8, 0x03, 0xe7, 0, 0, 0, 0, 0, 1]));
    expect(await bad.waitClosed()).toBe(true);
    const bad2 = await h.connect();
    // Produce v9 whose body stops after the header.
    await bad2.writeRaw(new Uint8Array([0, 0, 0, 11, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0]));
    expect(await bad2.waitClosed()).toBe(true);
    const bad3 = await h.connect();
    // A negative frame size.
    await bad3.writeRaw(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(await bad3.waitClosed()).toBe(true);
    const res = await good.request(Metadata, 12, metadataBody(null));
    expect(res.brokers).toEqual([{ nodeId: 1, host: "127.0.0.1", port: h.listener.port, rack: null }]);
  });

  it("survives fuzzed frames, and memory stays bounded", async () => {
    h = await createKafkaHarness({ maxFrameBytes: 64 * 1024 });
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const valid = Buffer.concat([
      ...(await import("../../src/kafka/protocol/messages.ts")).encodeRequest(
        Produce,
        { apiVersion: 9, correlationId: 1, clientId: "fuzz" },
        produceBody("fuzz", batchOf(["v"])),
      ),
    ]);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let round = 0; round < 40; round++) {
      const c = await h.connect();
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const kind = rand() % 3;
        if (kind === 0) {
          // random bytes, random length
          frames.push(Uint8Array.from({ length: rand() % 200 }, () => rand() & 0xff));
        } else {
          // a valid frame with a few flipped bytes (size prefix kept)
          const f = Uint8Array.from(valid);
          for (let k = 0; k < 1 + (rand() % 4); k++) f[4 + (rand() % (f.length - 4))] = rand() & 0xff;
          frames.push(f);
        }
      }
      await c.writeRaw(Buffer.concat(frames));
      c.close();
    }
    const probe = await h.connect();
    const res = await probe.request(ApiVersions, 3, {
      clientSoftwareName: "probe",
      clientSoftwareVersion: "1",
    });
    expect(res.errorCode).toBe(0);
    for (let i = 0; i < 100 && h.listener.connectionCount() > 1; i++) await Bun.sleep(10);
    expect(h.listener.connectionCount()).toBe(1);
    Bun.gc(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});
