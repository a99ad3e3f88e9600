/** Pure parts of the MQTT bridge: topic filters, the subscription trie, framing, the mapping. */
import { describe, expect, it } from "bun:test";
import { Framer, FrameError } from "../../bridges/mqtt/framing.ts";
import { compileMapping } from "../../bridges/mqtt/mapping.ts";
import { SubscriptionTrie } from "../../bridges/mqtt/subscription-trie.ts";
import {
  isValidTopicFilter,
  isValidTopicName,
  parseSubscriptionFilter,
  topicMatches,
} from "../../bridges/mqtt/topic-filter.ts";
import { EddyError } from "../../src/broker/index.ts";

const dec = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : null);

describe("topic names and filters", () => {
  it("[MQTT-3.3.2-2] topic names have no wildcards; [MQTT-4.7.3-1] are not empty", () => {
    expect(isValidTopicName("a/b/c")).toBe(true);
    expect(isValidTopicName("a/+/c")).toBe(false);
    expect(isValidTopicName("a/#")).toBe(false);
    expect(isValidTopicName("")).toBe(false);
    expect(isValidTopicName("a\u0000b")).toBe(false);
  });

  it("[MQTT-4.7.1-2][MQTT-4.7.1-3] wildcard placement", () => {
    for (const ok of ["#", "+", "a/#", "a/+/b", "+/+", "/+", "a//b"])
      expect(isValidTopicFilter(ok)).toBe(true);
    for (const bad of ["a/#/b", "a#", "a/b#", "a+/b", "+a", ""]) expect(isValidTopicFilter(bad)).toBe(false);
  });

  it("[MQTT-4.7.1-2] '#' matches the parent level; '+' matches one level, including empty", () => {
    expect(topicMatches("sport/#", "sport")).toBe(true);
    expect(topicMatches("sport/#", "sport/tennis/player1")).toBe(true);
    expect(topicMatches("sport/+", "sport/")).toBe(true);
    expect(topicMatches("sport/+", "sport")).toBe(false);
    expect(topicMatches("+/+", "/finance")).toBe(true);
    expect(topicMatches("a/b", "a/b/c")).toBe(false);
  });

  it("[MQTT-4.7.2-1] wildcards at the first level do not match $ topics", () => {
    expect(topicMatches("#", "$SYS/x")).toBe(false);
    expect(topicMatches("+/x", "$SYS/x")).toBe(false);
    expect(topicMatches("$SYS/#", "$SYS/x")).toBe(true);
  });

  it("[MQTT-4.8.2-1][MQTT-4.8.2-2] parses $share/{group}/{filter}", () => {
    expect(parseSubscriptionFilter("$share/g1/a/+")).toEqual({ group: "g1", filter: "a/+" });
    expect(parseSubscriptionFilter("a/+")).toEqual({ group: null, filter: "a/+" });
    expect(parseSubscriptionFilter("$share/g1")).toBeNull();
    expect(parseSubscriptionFilter("$share//a")).toBeNull();
    expect(parseSubscriptionFilter("$share/g+/a")).toBeNull();
    expect(parseSubscriptionFilter("$share/g/a/#/b")).toBeNull();
  });
});

describe("subscription trie", () => {
  it("matches like topicMatches for many filters and topics", () => {
    const filters = [
      "#",
      "+",
      "a",
      "a/+",
      "a/#",
      "a/b",
      "+/b",
      "+/+/c",
      "a/+/c",
      "$SYS/#",
      "$SYS/+",
      "/+",
      "+/#",
    ];
    const topics = ["a", "a/b", "a/b/c", "b/b", "x/y/c", "$SYS/a", "$SYS", "/a", "a/", ""];
    const trie = new SubscriptionTrie<string>();
    for (const f of filters) trie.set(f, "id", f);
    for (const t of topics) {
      const expected = filters.filter((f) => topicMatches(f, t)).sort();
      expect([...trie.match(t)].sort()).toEqual(expected);
    }
  });

  it("replaces, deletes and prunes", () => {
    const trie = new SubscriptionTrie<number>();
    trie.set("a/+", "s1", 1);
    trie.set("a/+", "s1", 2);
    trie.set("a/+", "s2", 3);
    expect(trie.size).toBe(2);
    expect([...trie.match("a/x")].sort()).toEqual([2, 3]);
    expect(trie.delete("a/+", "s1")).toBe(true);
    expect(trie.delete("a/+", "s1")).toBe(false);
    expect(trie.delete("a/+", "s2")).toBe(true);
    expect(trie.size).toBe(0);
    expect(trie.match("a/x")).toEqual([]);
  });
});

describe("framing", () => {
  it("splits packets across chunk boundaries", () => {
    const f = new Framer(1000);
    const ping = [0xc0, 0x00];
    const pub = [0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69];
    const bytes = new Uint8Array([...ping, ...pub, ...ping]);
    const out: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const r = f.push(bytes.subarray(i, i + 1));
      expect(r.error).toBeNull();
      out.push(...r.packets);
    }
    expect(out.map((p) => [...p])).toEqual([ping, pub, ping]);
  });

  it("[MQTT-1.5.5-1] a remaining length over 4 bytes is malformed", () => {
    expect(new Framer(1000).push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])).error).toBe(
      FrameError.MALFORMED_LENGTH,
    );
  });

  it("[MQTT-3.1.2-24] refuses a packet over the maximum size before buffering it", () => {
    const r = new Framer(100).push(new Uint8Array([0x30, 0xe8, 0x07, 0x00]));
    expect(r.error).toBe(FrameError.TOO_LARGE);
  });
});

describe("topic mapping", () => {
  const mapping = compileMapping({
    rules: [
      { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" },
      { filter: "logs/#", topic: "logs", key: "app-{#}" },
      { filter: "noise/#", topic: "noise", key: "" },
    ],
    reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 2 }],
  });

  it("maps rules to stream topics and keys, first match wins", () => {
    const t = mapping.forward("sensors/dev1/temp")!;
    expect(t.topic).toBe("telemetry");
    expect(dec(t.key)).toBe("dev1");
    expect(dec(mapping.forward("logs/a/b")!.key)).toBe("app-a/b");
    expect(mapping.forward("noise/x")!.key).toBeNull();
  });

  it("sends everything else to the default topic `mqtt` keyed by the MQTT topic", () => {
    const t = mapping.forward("sensors/dev1/humidity")!;
    expect(t.topic).toBe("mqtt");
    expect(dec(t.key)).toBe("sensors/dev1/humidity");
    expect(compileMapping({ defaultTopic: null }).forward("x")).toBeNull();
  });

  it("reverse rules and the default topic turn records into MQTT topics", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(mapping.reverse("commands", enc("dev7"))).toEqual({ mqttTopic: "devices/dev7/commands", qos: 2 });
    expect(mapping.reverse("mqtt", enc("a/b"))).toEqual({ mqttTopic: "a/b", qos: 1 });
    expect(mapping.reverse("mqtt", enc("a/+"))).toBeNull();
    expect(mapping.reverse("telemetry", enc("x"))).toBeNull();
    expect([...mapping.visibleTopics].sort()).toEqual(["commands", "logs", "mqtt", "noise", "telemetry"]);
  });

  it("rejects bad rules with INVALID_CONFIG", () => {
    expect(() => compileMapping({ rules: [{ filter: "a/#/b", topic: "t" }] })).toThrow(EddyError);
    expect(() => compileMapping({ rules: [{ filter: "a/+", topic: "t", key: "{2}" }] })).toThrow(EddyError);
    expect(() => compileMapping({ rules: [{ filter: "a/+", topic: "bad topic" }] })).toThrow(EddyError);
    expect(() => compileMapping({ reverse: [{ topic: "c", mqttTopic: "a/#" }] })).toThrow(EddyError);
  });
});
