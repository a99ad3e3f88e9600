/** The shared topic mapping (src/broker/topic-mapping.ts): explain, the source topic of a mapped topic, a record's topic. */
import { describe, expect, it } from "bun:test";
import { compileMapping, MAPPING_HEADERS, recordTopic } from "../../src/broker/index.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const mapping = compileMapping({
  rules: [
    { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" },
    { filter: "devices/+/commands", topic: "commands", key: "{1}" },
  ],
  reverse: [
    { topic: "commands", mqttTopic: "devices/{key}/commands" },
    { topic: "alerts", mqttTopic: "alerts/{key}.x/{key}" },
  ],
});

describe("topic mapping in the broker core", () => {
  it("explains which rule takes a topic", () => {
    const e = mapping.explainForward("sensors/d1/temp");
    expect(e.rule).toBe("sensors/+/temp");
    expect(e.target?.topic).toBe("telemetry");
    expect(new TextDecoder().decode(e.target!.key!)).toBe("d1");
    expect(mapping.explainForward("other/x").rule).toBe("(default)");
    expect(compileMapping({ defaultTopic: null }).explainForward("x")).toEqual({ rule: null, target: null });
  });

  it("names the stream topic a reader follows: a matching reverse rule first, else the forward target", () => {
    expect(mapping.sourceTopic("devices/d1/commands")).toBe("commands");
    expect(mapping.sourceTopic("sensors/d1/temp")).toBe("telemetry");
    expect(mapping.sourceTopic("alerts/a.x/a")).toBe("alerts");
    expect(mapping.sourceTopic("alerts/aYx/a")).toBe("mqtt"); // "." is literal; the default topic takes it
    expect(mapping.sourceTopic("alerts/a.x/b")).toBe("mqtt"); // both {key}s must be equal
    expect(compileMapping({ defaultTopic: null }).sourceTopic("x/y")).toBeNull();
  });

  it("gives a record's topic from its mqtt.topic header, else the reverse rules", () => {
    const header = { key: MAPPING_HEADERS.TOPIC, value: enc("sensors/d2/temp") };
    expect(recordTopic(mapping, "telemetry", { key: enc("d2"), headers: [header] })).toBe("sensors/d2/temp");
    expect(recordTopic(mapping, "commands", { key: enc("d3"), headers: [] })).toBe("devices/d3/commands");
    expect(recordTopic(mapping, "mqtt", { key: enc("a/b"), headers: [] })).toBe("a/b");
    expect(recordTopic(mapping, "telemetry", { key: enc("d2"), headers: [] })).toBeNull();
  });
});
