/**
 * Every handler of the core Kafka frontend answers every version it
 * advertises, and the responses decode with the generated decoders; plus the
 * semantics of the admin APIs (topics, partitions, configs, records, cluster).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import {
  AlterConfigs,
  CreatePartitions,
  CreateTopics,
  DeleteRecords,
  DeleteTopics,
  DescribeCluster,
  DescribeConfigs,
  Fetch,
  IncrementalAlterConfigs,
  ListOffsets,
  Metadata,
  Produce,
} from "../../src/kafka/generated/index.ts";
import type { ListOffsetsRequest } from "../../src/kafka/generated/list-offsets-request.ts";
import { HANDLER_BY_KEY } from "../../src/kafka/handlers/index.ts";
import { ZERO_UUID } from "../../src/kafka/protocol/values.ts";
import { createKafkaHarness, type KafkaHarness, type RawClient } from "./server-harness.ts";
import { batchOf, fetchBody, metadataBody, produceBody } from "./server-requests.ts";

let h: KafkaHarness;
let c: RawClient;
beforeAll(async () => {
  h = await createKafkaHarness({ autoCreateTopics: false });
  c = await h.connect();
  await h.broker.createTopic({ name: "vt", partitions: 2 });
});
afterAll(async () => {
  await h.close();
});

function versionsOf(apiKey: number): number[] {
  const handler = HANDLER_BY_KEY.get(apiKey)!;
  return Array.from(
    { length: handler.maxVersion - handler.minVersion + 1 },
    (_, i) => handler.minVersion + i,
  );
}

function listOffsetsBody(
  topic: string,
  timestamp: number,
  v: number,
  isolationLevel = 0,
): ListOffsetsRequest {
  return {
    replicaId: -1,
    isolationLevel: v >= 2 ? isolationLevel : 0,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
      },
    ],
    timeoutMs: 0,
  };
}

describe("every advertised version", () => {
  it("Produce 0-9, Fetch 4-12, ListOffsets 0-7, Metadata 0-12", async () => {
    let expected = 0;
    for (const v of versionsOf(Produce.apiKey)) {
      const res = await c.request(Produce, v, produceBody("vt", batchOf([`p${v}`])));
      const p = res.responses[0]!.partitionResponses[0]!;
      expect({ v, error: p.errorCode, base: p.baseOffset }).toEqual({ v, error: 0, base: expected });
      expected++;
    }
    for (const v of versionsOf(Fetch.apiKey)) {
      const res = await c.request(Fetch, v, fetchBody("vt", 3));
      const p = res.responses[0]!.partitions[0]!;
      expect({ v, error: p.errorCode, hw: p.highWatermark }).toEqual({ v, error: 0, hw: 10 });
      expect(p.records!.length).toBeGreaterThan(0);
      if (v >= 5) expect(p.logStartOffset).toBe(0);
    }
    for (const v of versionsOf(ListOffsets.apiKey)) {
      // v0 answers with an old-style offsets array (max_num_offsets 1), v1+ with one offset.
      const offsetOf = (p: { offset: number; oldStyleOffsets: number[] }) =>
        v === 0 ? p.oldStyleOffsets[0] : p.offset;
      const latest = await c.request(ListOffsets, v, listOffsetsBody("vt", -1, v));
      expect(offsetOf(latest.topics[0]!.partitions[0]!)).toBe(10);
      const earliest = await c.request(ListOffsets, v, listOffsetsBody("vt", -2, v));
      expect(offsetOf(earliest.topics[0]!.partitions[0]!)).toBe(0);
      const byTime = await c.request(ListOffsets, v, listOffsetsBody("vt", 0, v));
      expect(offsetOf(byTime.topics[0]!.partitions[0]!)).toBe(0);
    }
    const maxTs = await c.request(ListOffsets, 7, listOffsetsBody("vt", -3, 7));
    expect(maxTs.topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect(maxTs.topics[0]!.partitions[0]!.offset).toBeGreaterThanOrEqual(0);
    const committed = await c.request(ListOffsets, 5, listOffsetsBody("vt", -1, 5, 1));
    expect(committed.topics[0]!.partitions[0]!.offset).toBe(10);
    for (const v of versionsOf(Metadata.apiKey)) {
      const res = await c.request(Metadata, v, metadataBody(["vt"], v < 4));
      expect(res.topics[0]!.name).toBe("vt");
      expect(res.topics[0]!.partitions.map((p) => [p.partitionIndex, p.leaderId])).toEqual([
        [0, 1],
        [1, 1],
      ]);
      if (v >= 1) expect(res.controllerId).toBe(1);
      if (v >= 2) expect(res.clusterId).toBe(h.broker.clusterId);
      if (v >= 10) expect(res.topics[0]!.topicId).not.toBe(ZERO_UUID);
    }
  });

  it("Fetch: offset out of range, unknown topic, sessions", async () => {
    const out = await c.request(Fetch, 12, fetchBody("vt", 999));
    expect(out.responses[0]!.partitions[0]!.errorCode).toBe(1);
    const unknown = await c.request(Fetch, 12, fetchBody("nope", 0));
    expect(unknown.responses[0]!.partitions[0]!.errorCode).toBe(3);
    const session = await c.request(Fetch, 12, fetchBody("vt", 0, { sessionId: 42, sessionEpoch: 1 }));
    expect(session.errorCode).toBe(70);
    const start = await c.request(Fetch, 12, fetchBody("vt", 0, { sessionId: 0, sessionEpoch: 0 }));
    expect(start.errorCode).toBe(0);
    expect(start.sessionId).toBe(0);
  });

  it("Metadata: all topics, unknown and invalid names, topic ids, auto-creation per broker config", async () => {
    const all = await c.request(Metadata, 12, metadataBody(null));
    expect(all.topics.map((t) => t.name)).toContain("vt");
    const v0all = await c.request(Metadata, 0, metadataBody([]));
    expect(v0all.topics.map((t) => t.name)).toContain("vt");
    const none = await c.request(Metadata, 1, metadataBody([]));
    expect(none.topics).toEqual([]);
    const bad = await c.request(Metadata, 12, metadataBody(["bad name!", "missing"], true));
    expect(bad.topics.map((t) => t.errorCode)).toEqual([17, 3]);
    const id = all.topics.find((t) => t.name === "vt")!.topicId;
    const byId = await c.request(Metadata, 12, {
      ...metadataBody([]),
      topics: [
        { topicId: id, name: null },
        { topicId: "AAAAAAAAAAAAAAAAAAAAAQ", name: null },
      ],
    });
    expect(byId.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["vt", 0],
      [null, 100],
    ]);
  });
});

describe("admin APIs", () => {
  it("CreateTopics 2-7: defaults, configs, validateOnly, errors per topic", async () => {
    for (const v of versionsOf(CreateTopics.apiKey)) {
      const res = await c.request(CreateTopics, v, {
        topics: [
          {
            name: `ct-${v}`,
            numPartitions: v >= 4 ? -1 : 3,
            replicationFactor: v >= 4 ? -1 : 1,
            assignments: [],
            configs: [{ name: "retention.ms", value: "60000" }],
          },
          { name: "vt", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
          { name: "bad/name", numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
          {
            name: `ct-cfg-${v}`,
            numPartitions: 1,
            replicationFactor: 1,
            assignments: [],
            configs: [{ name: "no.such.key", value: "1" }],
          },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(res.topics.map((t) => t.errorCode)).toEqual([0, 36, 17, 40]);
      expect(res.topics[1]!.errorMessage).toContain("vt");
      if (v >= 5) {
        expect(res.topics[0]!.numPartitions).toBe(v >= 4 ? 1 : 3);
        expect(res.topics[0]!.configs!.find((e) => e.name === "retention.ms")).toEqual({
          name: "retention.ms",
          value: "60000",
          readOnly: false,
          configSource: 1,
          isSensitive: false,
        });
      }
      if (v >= 7) expect(res.topics[0]!.topicId).not.toBe(ZERO_UUID);
      expect((await h.broker.describeTopic(`ct-${v}`)).overrides["retention.ms"]).toBe("60000");
    }
    const dry = await c.request(CreateTopics, 7, {
      topics: [{ name: "dry", numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: true,
    });
    expect(dry.topics[0]!.errorCode).toBe(0);
    expect((await h.broker.listTopics()).map((t) => t.name)).not.toContain("dry");
  });

  it("DeleteTopics 1-6 by name and (v6) by id", async () => {
    for (const v of versionsOf(DeleteTopics.apiKey)) {
      await h.broker.createTopic({ name: `dt-${v}` });
      const res = await c.request(DeleteTopics, v, {
        topics:
          v >= 6
            ? [
                { name: `dt-${v}`, topicId: ZERO_UUID },
                { name: "missing", topicId: ZERO_UUID },
              ]
            : [],
        topicNames: v >= 6 ? [] : [`dt-${v}`, "missing"],
        timeoutMs: 1000,
      });
      expect(res.responses.map((r) => [r.name, r.errorCode])).toEqual([
        [`dt-${v}`, 0],
        ["missing", 3],
      ]);
    }
    await h.broker.createTopic({ name: "dt-id" });
    const meta = await c.request(Metadata, 12, metadataBody(["dt-id"]));
    const res = await c.request(DeleteTopics, 6, {
      topics: [{ name: null, topicId: meta.topics[0]!.topicId }],
      topicNames: [],
      timeoutMs: 1000,
    });
    expect(res.responses[0]!.name).toBe("dt-id");
    expect(res.responses[0]!.errorCode).toBe(0);
  });

  it("CreatePartitions grows, never shrinks, validateOnly changes nothing", async () => {
    await h.broker.createTopic({ name: "cp", partitions: 1 });
    for (const v of versionsOf(CreatePartitions.apiKey)) {
      const res = await c.request(CreatePartitions, v, {
        topics: [
          { name: "cp", count: 2 + v, assignments: null },
          { name: "vt", count: 1, assignments: null },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(res.results.map((r) => r.errorCode)).toEqual([0, 37]);
    }
    const dry = await c.request(CreatePartitions, 3, {
      topics: [{ name: "cp", count: 50, assignments: null }],
      timeoutMs: 1000,
      validateOnly: true,
    });
    expect(dry.results[0]!.errorCode).toBe(0);
    expect((await h.broker.describeTopic("cp")).partitions.length).toBe(5);
  });

  it("DescribeConfigs 0-4 for topics and the broker, with synonyms and documentation", async () => {
    await h.broker.createTopic({ name: "dc", configs: { "retention.ms": 1000 } });
    for (const v of versionsOf(DescribeConfigs.apiKey)) {
      const res = await c.request(DescribeConfigs, v, {
        resources: [
          { resourceType: 2, resourceName: "dc", configurationKeys: null },
          { resourceType: 4, resourceName: "1", configurationKeys: ["num.partitions"] },
          { resourceType: 2, resourceName: "missing", configurationKeys: null },
        ],
        includeSynonyms: v >= 1,
        includeDocumentation: v >= 3,
      });
      const [topic, broker, missing] = res.results;
      const retention = topic!.configs.find((e) => e.name === "retention.ms")!;
      expect(retention.value).toBe("1000");
      if (v >= 1) {
        expect(retention.configSource).toBe(1);
        expect(retention.synonyms.map((s) => s.name)).toEqual([
          "retention.ms",
          "log.retention.ms",
          "log.retention.ms",
        ]);
      }
      if (v >= 3) expect(retention.documentation).toContain("segments");
      expect(broker!.configs).toHaveLength(1);
      expect(broker!.configs[0]!).toMatchObject({ name: "num.partitions", value: "1", readOnly: true });
      expect(missing!.errorCode).toBe(3);
    }
  });

  it("AlterConfigs replaces the set; IncrementalAlterConfigs SET/DELETE/APPEND/SUBTRACT", async () => {
    await h.broker.createTopic({ name: "ac", configs: { "retention.ms": 1000, "segment.ms": 5000 } });
    for (const v of versionsOf(AlterConfigs.apiKey)) {
      const res = await c.request(AlterConfigs, v, {
        resources: [
          {
            resourceType: 2,
            resourceName: "ac",
            configs: [{ name: "retention.ms", value: String(2000 + v) }],
          },
          { resourceType: 4, resourceName: "1", configs: [{ name: "num.partitions", value: "3" }] },
        ],
        validateOnly: false,
      });
      expect(res.responses.map((r) => r.errorCode)).toEqual([0, 42]);
      expect((await h.broker.describeTopic("ac")).overrides).toEqual({ "retention.ms": String(2000 + v) });
    }
    const bad = await c.request(AlterConfigs, 1, {
      resources: [
        { resourceType: 2, resourceName: "ac", configs: [{ name: "retention.ms", value: "soon" }] },
      ],
      validateOnly: true,
    });
    expect(bad.responses[0]!.errorCode).toBe(40);
    for (const v of versionsOf(IncrementalAlterConfigs.apiKey)) {
      const res = await c.request(IncrementalAlterConfigs, v, {
        resources: [
          {
            resourceType: 2,
            resourceName: "ac",
            configs: [
              { name: "retention.ms", configOperation: 1, value: null },
              { name: "max.message.bytes", configOperation: 0, value: "5000" },
              { name: "cleanup.policy", configOperation: 2, value: "compact" },
            ],
          },
        ],
        validateOnly: false,
      });
      expect(res.responses[0]!.errorCode).toBe(0);
      expect((await h.broker.describeTopic("ac")).overrides).toEqual({
        "max.message.bytes": "5000",
        "cleanup.policy": "compact,delete",
      });
    }
    const sub = await c.request(IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: "ac",
          configs: [{ name: "cleanup.policy", configOperation: 3, value: "delete" }],
        },
      ],
      validateOnly: false,
    });
    expect(sub.responses[0]!.errorCode).toBe(0);
    expect((await h.broker.describeTopic("ac")).configs["cleanup.policy"]).toBe("compact");
    const notList = await c.request(IncrementalAlterConfigs, 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: "ac",
          configs: [{ name: "retention.ms", configOperation: 2, value: "1" }],
        },
      ],
      validateOnly: false,
    });
    expect(notList.responses[0]!.errorCode).toBe(40);
  });

  it("DeleteRecords moves the log start offset; DescribeCluster names this node", async () => {
    await h.broker.createTopic({ name: "dr", partitions: 1 });
    await c.request(Produce, 9, produceBody("dr", batchOf(["a", "b", "c", "d"])));
    for (const v of versionsOf(DeleteRecords.apiKey)) {
      const res = await c.request(DeleteRecords, v, {
        topics: [{ name: "dr", partitions: [{ partitionIndex: 0, offset: 1 + v }] }],
        timeoutMs: 1000,
      });
      expect(res.topics[0]!.partitions[0]!).toEqual({ partitionIndex: 0, lowWatermark: 1 + v, errorCode: 0 });
    }
    const beyond = await c.request(DeleteRecords, 2, {
      topics: [{ name: "dr", partitions: [{ partitionIndex: 0, offset: 99 }] }],
      timeoutMs: 1000,
    });
    expect(beyond.topics[0]!.partitions[0]!.errorCode).toBe(1);
    for (const v of versionsOf(DescribeCluster.apiKey)) {
      const res = await c.request(DescribeCluster, v, {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
      });
      expect(res.clusterId).toBe(h.broker.clusterId);
      expect(res.brokers).toEqual([{ brokerId: 1, host: "127.0.0.1", port: h.listener.port, rack: null }]);
    }
  });
});
