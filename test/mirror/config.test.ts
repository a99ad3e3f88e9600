/** Mirror link config: defaults, validation errors with key paths, topic selection, remote names; the send gate. */
import { describe, expect, it } from "bun:test";
import {
  downlinkEdgeTopic,
  parseMirrorLinks,
  remoteTopicName,
  topicMatcher,
} from "../../bridges/mirror/config.ts";
import { SendGate } from "../../bridges/mirror/gate.ts";
import { isEddyError } from "../../src/broker/index.ts";
import { systemClock } from "../../src/util/clock.ts";

const base = { name: "central", bootstrap_servers: ["kafka:9092"], topics: ["t"] };

describe("mirror config", () => {
  it("fills defaults", () => {
    const [link] = parseMirrorLinks([base]);
    expect(link).toMatchObject({
      remote_naming: "prefix",
      partition_mapping: "same",
      start_position: "earliest",
      compression: "none",
      bandwidth_bytes_per_sec: 0,
      batch: { max_records: 1000, max_bytes: 1024 * 1024, linger_ms: 5 },
    });
  });

  it("names the key path of a bad value", () => {
    const bad = (input: unknown, path: string) => {
      try {
        parseMirrorLinks(input);
      } catch (err) {
        expect(isEddyError(err) && err.code).toBe("INVALID_CONFIG");
        expect((err as Error).message).toContain(path);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(input)}`);
    };
    bad([{ ...base, bootstrap_servers: ["no-port"] }], "mirror.links.0.bootstrap_servers.0");
    bad([{ ...base, topics: ["/([/"] }], "mirror.links.0.topics.0");
    bad([{ ...base, partition_mapping: "random" }], "mirror.links.0.partition_mapping");
    bad([base, base], "mirror.links.1.name");
    bad([{ ...base, unknown_key: 1 }], "mirror.links.0");
  });

  it("selects topics by name or /regex/ and never internal topics", () => {
    const m = topicMatcher(["alarms", "/sensors\\..+/", "/.*progress/"]);
    expect(m("alarms")).toBe(true);
    expect(m("sensors.temp")).toBe(true);
    expect(m("sensors.")).toBe(false);
    expect(m("xalarms")).toBe(false);
    expect(m("__mirror_progress")).toBe(false);
  });

  it("takes a downlink (alone or with uplink topics), with defaults and edge naming", () => {
    const [down, both] = parseMirrorLinks([
      { name: "d", bootstrap_servers: ["kafka:9092"], downlink: { topics: ["commands"] } },
      { ...base, name: "e", downlink: { topics: ["/cmd\\..*/"], edge_naming: "prefix", edge_prefix: "hq" } },
    ]);
    expect(down!.topics).toEqual([]);
    expect(down!.downlink).toEqual({
      topics: ["commands"],
      edge_naming: "identity",
      start_position: "latest",
      poll_wait_ms: 500,
    });
    expect(downlinkEdgeTopic(down!, "commands")).toBe("commands");
    expect(downlinkEdgeTopic(both!, "cmd.reboot")).toBe("hq.cmd.reboot");
    const noPrefix = parseMirrorLinks([
      { ...base, name: "f", downlink: { topics: ["c"], edge_naming: "prefix" } },
    ]);
    expect(downlinkEdgeTopic(noPrefix[0]!, "c")).toBe("f.c");
    const bad = (input: unknown, path: string) => {
      expect(() => parseMirrorLinks(input)).toThrow(path);
    };
    bad([{ name: "x", bootstrap_servers: ["kafka:9092"] }], "mirror.links.0.topics");
    bad([{ ...base, downlink: { topics: [] } }], "mirror.links.0.downlink.topics");
    bad(
      [{ ...base, downlink: { topics: ["c"], start_position: "middle" } }],
      "mirror.links.0.downlink.start_position",
    );
  });

  it("names remote topics {source.id}.{topic} or identically", () => {
    const [prefix, identity] = parseMirrorLinks([base, { ...base, name: "b", remote_naming: "identity" }]);
    expect(remoteTopicName(prefix!, "gw7", "t")).toBe("gw7.t");
    expect(remoteTopicName(identity!, "gw7", "t")).toBe("t");
  });
});

describe("send gate", () => {
  const flush = () => new Promise((r) => setTimeout(r, 0));

  it("serves higher priority first, then arrival order", async () => {
    const gate = new SendGate({ maxInFlight: 1, bytesPerSec: 0, clock: systemClock });
    const first = await gate.acquire(0, 10);
    const order: string[] = [];
    const wait = (name: string, priority: number) =>
      gate.acquire(priority, 10).then((release) => {
        order.push(name);
        release();
      });
    const all = Promise.all([wait("low-1", 0), wait("high", 5), wait("low-2", 0), wait("mid", 1)]);
    await flush();
    expect(order).toEqual([]);
    first();
    await all;
    expect(order).toEqual(["high", "mid", "low-1", "low-2"]);
  });

  it("holds senders back once the bandwidth budget is spent, and rejects waiters on close", async () => {
    const gate = new SendGate({ maxInFlight: 8, bytesPerSec: 1000, clock: systemClock });
    const release = await gate.acquire(0, 5000); // the 100 ms budget, plus debt
    release();
    let got = false;
    const pending = gate.acquire(0, 10).then(() => {
      got = true;
    });
    await flush();
    expect(got).toBe(false);
    gate.close(new Error("closing"));
    await expect(pending).rejects.toThrow("closing");
  });
});
