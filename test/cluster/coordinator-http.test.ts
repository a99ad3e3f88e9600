/**
 * The HTTP group API works on any node (issue 7, items 4 and 5), on 3
 * in-process nodes: on a node that is not a group's coordinator, BrokerApi's
 * group calls (commit, fetch, lag, delete) are carried to the coordinator,
 * listGroups asks every coordinator, `eddy groups` over HTTP works against
 * any node, and the Kafka frontend (requireCoordinator) keeps NOT_COORDINATOR.
 * After the coordinator dies the same calls reach the new one.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode, GroupState } from "../../src/broker/index.ts";
import { CONSUMER_OFFSETS_TOPIC, coordinatorPartition } from "../../src/cluster/coordinator-placement.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { OffsetFetchRequest } from "../../src/kafka/generated/offset-fetch-request.ts";
import type { OffsetFetchResponse } from "../../src/kafka/generated/offset-fetch-response.ts";
import type { HandlerContext } from "../../src/kafka/handlers/context.ts";
import { handler as offsetFetchHandler } from "../../src/kafka/handlers/offset-fetch.ts";
import type { RequestHeader } from "../../src/kafka/protocol/headers.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { codeOf, enc } from "../broker/helpers.ts";
import { run } from "../cli/run-cli.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
const servers: Array<ReturnType<typeof Bun.serve>> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop(true);
  await cluster?.stop();
  cluster = null;
});

async function topicOnAll(c: TestCluster, name: string, partitions: number) {
  await c.broker(1).createTopic({ name, partitions, replicationFactor: 3 });
  await waitFor(`every node applied ${name}`, async () => {
    for (const n of c.live())
      if ((await n.broker.describeTopic(name)).partitions.length !== partitions) return false;
    return true;
  });
}

/** Create __consumer_offsets and wait until every live node agrees on the leader of each partition. */
async function offsetsLeaders(c: TestCluster, notId = -1): Promise<number[]> {
  let leaders: number[] = [];
  await waitFor("a coordinator for every __consumer_offsets partition", async () => {
    const seen = new Set<string>();
    for (const n of c.live()) {
      const loc = await n.broker.findCoordinator!("group", "any");
      if (!loc || loc.error !== null) return false;
      const t = await n.broker.describeTopic(CONSUMER_OFFSETS_TOPIC);
      const ls = t.partitions.map((p) => p.leader);
      if (ls.some((l) => l < 0 || l === notId || !c.nodes.get(l)?.alive)) return false;
      seen.add(ls.join(","));
      leaders = ls;
    }
    return seen.size === 1;
  });
  return leaders;
}

/** A group id whose coordinator is `node` (per `leaders`). */
function groupCoordinatedBy(leaders: number[], node: number, prefix: string): string {
  for (let i = 0; i < 1000; i++) {
    const g = `${prefix}-${i}`;
    if (leaders[coordinatorPartition(g)] === node) return g;
  }
  throw new Error(`no group id maps to a partition led by ${node}`);
}

function httpOn(broker: Broker) {
  const app = createHttpApp({ broker, logger: silentLogger, console: false });
  return async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  };
}

async function kafkaOffsetFetch(broker: Broker, nodeId: number, group: string): Promise<number> {
  const ctx = {
    broker,
    nodeId,
    advertisedHost: "localhost",
    advertisedPort: 9092,
  } as unknown as HandlerContext;
  const res = (await offsetFetchHandler.handle(
    ctx,
    { apiVersion: 8 } as RequestHeader,
    { groups: [{ groupId: group, topics: null }], requireStable: false } as unknown as OffsetFetchRequest,
  )) as OffsetFetchResponse;
  return res.groups[0]!.errorCode;
}

describe("group HTTP API on any node", () => {
  it("commits, describes, lists, resets and deletes on a node that is not the coordinator", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "orders", 2);
    for (const p of [0, 1]) {
      await c.broker(1).produce({
        topic: "orders",
        partition: p,
        acks: -1,
        records: Array.from({ length: 10 }, (_, i) => ({ value: enc(`${p}-${i}`) })),
      });
    }
    const leaders = await offsetsLeaders(c);
    const coord = leaders[0]!;
    const via = [1, 2, 3].find((id) => id !== coord)!;
    const group = groupCoordinatedBy(leaders, coord, "billing");
    const http = httpOn(c.broker(via));

    // Commit through a node that is not the coordinator: stored (replicated) by the coordinator.
    const commit = await http("POST", `/v1/groups/${group}/offsets`, {
      offsets: [
        { topic: "orders", partition: 0, offset: 4, metadata: "m" },
        { topic: "orders", partition: 1, offset: 10 },
      ],
    });
    expect(commit).toEqual({ status: 200, json: { group, committed: 2 } });
    const atCoordinator = await c.broker(coord).fetchOffsets(group, undefined, { requireCoordinator: true });
    expect(atCoordinator.map((o) => [o.partition, o.offset, o.metadata])).toEqual([
      [0, 4, "m"],
      [1, 10, ""],
    ]);
    // The Kafka frontend's flag keeps Kafka's answer on the non-coordinator.
    expect(await codeOf(c.broker(via).fetchOffsets(group, undefined, { requireCoordinator: true }))).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    expect(await kafkaOffsetFetch(c.broker(via), via, group)).toBe(16); // NOT_COORDINATOR
    expect(await kafkaOffsetFetch(c.broker(coord), coord, group)).toBe(0);

    // Describe (offsets and lag) through the same node.
    const described = await http("GET", `/v1/groups/${group}`);
    expect(described.status).toBe(200);
    expect(described.json!.totalLag).toBe(6);
    expect(
      (described.json!.partitions as Array<Record<string, number>>).map((p) => [
        p.partition,
        p.committedOffset,
        p.highWatermark,
        p.lag,
      ]),
    ).toEqual([
      [0, 4, 10, 6],
      [1, 10, 10, 0],
    ]);

    // A second group coordinated by another node: every node lists both.
    const other = [1, 2, 3].find((id) => id !== coord && leaders.includes(id))!;
    const group2 = groupCoordinatedBy(leaders, other, "audit");
    await c.broker(coord).commitOffsets(group2, [{ topic: "orders", partition: 1, offset: 3 }]);
    for (const id of [1, 2, 3]) {
      const listed = await httpOn(c.broker(id))("GET", "/v1/groups");
      expect(listed).toEqual({ status: 200, json: { groups: [group2, group].sort() } });
      // requireCoordinator lists only what this node coordinates.
      const own = await c.broker(id).listGroups({ requireCoordinator: true });
      expect(own).toEqual([group, group2].filter((g) => leaders[coordinatorPartition(g)] === id).sort());
    }

    // Reset to earliest through the non-coordinator.
    const reset = await http("POST", `/v1/groups/${group}/reset-offsets`, {
      topic: "orders",
      to: "earliest",
    });
    expect(reset.status).toBe(200);
    expect((reset.json!.partitions as Array<Record<string, number>>).map((p) => p.previousOffset)).toEqual([
      4, 10,
    ]);
    expect((await c.broker(coord).fetchOffsets(group)).map((o) => o.offset)).toEqual([0, 0]);

    // Validation errors come back from the coordinator with their codes.
    const bad = await http("POST", `/v1/groups/${group}/offsets`, {
      offsets: [{ topic: "nope", partition: 0, offset: 1 }],
    });
    expect(bad.status).toBe(404);

    // A group with members is refused on delete, also from another node.
    const join = c.broker(coord).groups.joinGroup({
      groupId: group,
      memberId: "",
      clientId: "c",
      clientHost: "/127.0.0.1",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      requireKnownMemberId: false,
    });
    const described1 = async () => (await c.broker(coord).groups.describeGroups([group]))[0]!;
    await waitFor("the member joined", async () => (await described1()).members.length > 0);
    const refused = await http("DELETE", `/v1/groups/${group}`);
    expect(refused.status).toBe(409);
    expect(refused.json!.error).toMatchObject({
      code: ErrorCode.GROUP_NOT_EMPTY,
      message: expect.stringContaining("still has members"),
    });
    const { memberId } = (await described1()).members[0]!;
    await c.broker(coord).groups.leaveGroup({ groupId: group, members: [{ memberId }] });
    await join;
    await waitFor("the group is empty", async () => (await described1()).state === GroupState.Empty);

    // Delete through the non-coordinator; then it is gone everywhere.
    expect((await http("DELETE", `/v1/groups/${group}`)).status).toBe(204);
    expect((await http("GET", `/v1/groups/${group}`)).status).toBe(404);
    expect((await http("DELETE", `/v1/groups/${group}`)).status).toBe(404);
    expect(await c.broker(coord).fetchOffsets(group)).toEqual([]);
    expect(await c.broker(via).listGroups()).toEqual([group2]);
  });

  it("eddy groups over HTTP works against any node", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "events", 1);
    await c.broker(1).produce({
      topic: "events",
      acks: -1,
      records: Array.from({ length: 5 }, (_, i) => ({ value: enc(`${i}`) })),
    });
    const leaders = await offsetsLeaders(c);
    const coord = leaders[0]!;
    const via = [1, 2, 3].find((id) => id !== coord)!;
    const group = groupCoordinatedBy(leaders, coord, "dash");
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: createHttpApp({ broker: c.broker(via), logger: silentLogger, console: false }).fetch,
    });
    servers.push(server);
    const url = `http://127.0.0.1:${server.port}`;
    const reset = await run([
      "groups",
      "--reset-offsets",
      "--group",
      group,
      "--topic",
      "events",
      "--to-offset",
      "2",
      "--execute",
      "--url",
      url,
    ]);
    expect(reset.code).toBe(0);
    expect((await c.broker(coord).fetchOffsets(group)).map((o) => o.offset)).toEqual([2]);
    const list = await run(["groups", "--list", "--url", url]);
    expect(list).toMatchObject({ code: 0, stdout: `${group}\n` });
    const d = await run(["groups", "--describe", "--group", group, "--url", url]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(new RegExp(`${group}\\s+events\\s+0\\s+2\\s+5\\s+3\\n`));
    const del = await run(["groups", "--delete", "--group", group, "--url", url]);
    expect(del.code).toBe(0);
    expect(await c.broker(coord).listGroups()).toEqual([]);
  });

  it("reaches the new coordinator after the old one dies", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "orders", 1);
    await c.broker(1).produce({ topic: "orders", acks: -1, records: [{ value: enc("x") }] });
    const leaders = await offsetsLeaders(c);
    const coord = leaders[0]!;
    const via = [1, 2, 3].find((id) => id !== coord)!;
    const group = groupCoordinatedBy(leaders, coord, "failover");
    const http = httpOn(c.broker(via));
    const commit = await http("POST", `/v1/groups/${group}/offsets`, {
      offsets: [{ topic: "orders", partition: 0, offset: 1 }],
    });
    expect(commit.status).toBe(200);

    await c.abandon(coord);
    // The call waits for (and then reaches) the new coordinator; the commit survived.
    const described = await http("GET", `/v1/groups/${group}`);
    expect(described.status).toBe(200);
    expect(
      (described.json!.partitions as Array<Record<string, number>>).map((p) => p.committedOffset),
    ).toEqual([1]);
    const after = await offsetsLeaders(c, coord);
    expect(after[coordinatorPartition(group)]).not.toBe(coord);
    expect(await http("GET", "/v1/groups")).toEqual({ status: 200, json: { groups: [group] } });
    const again = await http("POST", `/v1/groups/${group}/offsets`, {
      offsets: [{ topic: "orders", partition: 0, offset: 0 }],
    });
    expect(again.status).toBe(200);
    expect((await c.broker(after[coordinatorPartition(group)]!).fetchOffsets(group))[0]!.offset).toBe(0);
  });

  it("tombstones the offsets of a deleted topic: they stay gone after a failover and a re-creation", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "gone", 1);
    await topicOnAll(c, "keep", 1);
    const leaders = await offsetsLeaders(c);
    const coord = leaders[0]!;
    const group = groupCoordinatedBy(leaders, coord, "cleanup");
    const k = coordinatorPartition(group);
    await c.broker(coord).commitOffsets(group, [
      { topic: "gone", partition: 0, offset: 5 },
      { topic: "keep", partition: 0, offset: 1 },
    ]);

    await c.broker(1).deleteTopic("gone");
    await waitFor("every node dropped the topic", async () => {
      for (const n of c.live())
        if ((await n.broker.listTopics()).some((t) => t.name === "gone")) return false;
      return true;
    });
    const tombstoned = async () => {
      const read = await c
        .broker(coord)
        .readRecords({ topic: CONSUMER_OFFSETS_TOPIC, partition: k, offset: 0 });
      return read.records.some(
        (r) => r.value === null && new TextDecoder().decode(r.key!).includes('"gone"'),
      );
    };
    await waitFor("the coordinator tombstoned the deleted topic's offsets", tombstoned);
    expect((await c.broker(coord).fetchOffsets(group)).map((o) => o.topic)).toEqual(["keep"]);

    // A topic of the same name again, then a failover: the old offsets do not come back.
    await topicOnAll(c, "gone", 1);
    await c.abandon(coord);
    const after = await offsetsLeaders(c, coord);
    const next = after[k]!;
    expect(next).not.toBe(coord);
    const fetched = await c.broker(next).fetchOffsets(group);
    expect(fetched.map((o) => [o.topic, o.offset])).toEqual([["keep", 1]]);
  });
});
