/**
 * Interoperability with Debian's mosquitto-clients (mosquitto_pub / mosquitto_sub,
 * MQTT 3.1.1 and 5.0) against the in-process listener: QoS 0/1/2 in both
 * directions, retained messages, wills, persistent sessions (-c) that receive
 * what was published while they were offline, and the topic mapping seen
 * through broker.readRecords. `.ci/run` installs mosquitto-clients.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { startServer, type TestServer, until } from "./harness.ts";

const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

let server: TestServer;
const running: Subprocess[] = [];

beforeEach(async () => {
  server = await startServer({
    mapping: {
      rules: [{ filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }],
    },
  });
});
afterEach(async () => {
  for (const p of running.splice(0)) p.kill(9);
  await server.close();
});

type Version = "mqttv311" | "mqttv5";

function base(version: Version): string[] {
  return ["-h", "127.0.0.1", "-p", String(server.listener.port), "-V", version];
}

/** Run mosquitto_pub to completion; fails the test on a non-zero exit. */
async function pub(version: Version, args: string[]): Promise<void> {
  const proc = Bun.spawn(["mosquitto_pub", ...base(version), ...args], { stdout: "pipe", stderr: "pipe" });
  running.push(proc);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`mosquitto_pub exited ${code}: ${await new Response(proc.stderr).text()}`);
}

interface Sub {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Lines printed until the process exits. */
  lines: Promise<string[]>;
}

/**
 * Start mosquitto_sub with `-F %t|%q|%r|%p` output; resolves once the bridge
 * holds its subscriptions (so a later publish reaches it).
 */
async function sub(version: Version, clientId: string, args: string[], topics = 1): Promise<Sub> {
  const proc = Bun.spawn(
    ["mosquitto_sub", ...base(version), "-i", clientId, "-F", "%t|%q|%r|%p", "-W", "10", ...args],
    { stdout: "pipe", stderr: "pipe" },
  );
  running.push(proc);
  const lines = new Response(proc.stdout).text().then((t) => t.split("\n").filter((l) => l.length > 0));
  const sessions = server.listener.bridge.sessions;
  await until(
    () => (sessions.get(clientId)?.subs.size ?? 0) >= topics && sessions.get(clientId)?.link !== null,
    5000,
    `mosquitto_sub ${clientId} subscribed`,
  );
  return { proc, lines };
}

for (const version of ["mqttv311", "mqttv5"] as const) {
  describe(`mosquitto_pub / mosquitto_sub (${version})`, () => {
    it("delivers QoS 0, 1 and 2 publishes at the lower of publish and subscription QoS [MQTT-3.8.4-8]", async () => {
      const s = await sub(version, `sub-${version}`, ["-q", "2", "-t", "q/#", "-C", "3"]);
      const s1 = await sub(version, `sub1-${version}`, ["-q", "1", "-t", "q/#", "-C", "3"]);
      for (const qos of [0, 1, 2]) await pub(version, ["-q", String(qos), "-t", `q/${qos}`, "-m", `m${qos}`]);
      expect(await s.lines).toEqual(["q/0|0|0|m0", "q/1|1|0|m1", "q/2|2|0|m2"]);
      expect(await s1.lines).toEqual(["q/0|0|0|m0", "q/1|1|0|m1", "q/2|1|0|m2"]);
      expect(await s.proc.exited).toBe(0);
    });

    it("keeps a retained message (-r) for later subscribers and clears it with an empty one [MQTT-3.3.1-5][MQTT-3.3.1-10]", async () => {
      await pub(version, ["-q", "1", "-r", "-t", "status/gw", "-m", "online"]);
      const first = Bun.spawn(
        ["mosquitto_sub", ...base(version), "-t", "status/#", "-F", "%t|%r|%p", "-C", "1", "-W", "5"],
        { stdout: "pipe", stderr: "pipe" },
      );
      running.push(first);
      expect((await new Response(first.stdout).text()).trim()).toBe("status/gw|1|online");
      await pub(version, ["-q", "1", "-r", "-n", "-t", "status/gw"]);
      expect(server.listener.bridge.retained.size).toBe(0);
      // A new subscriber now gets nothing retained: it times out (-W) without output.
      const second = Bun.spawn(
        ["mosquitto_sub", ...base(version), "-t", "status/#", "-F", "%t|%r|%p", "-C", "1", "-W", "1"],
        { stdout: "pipe", stderr: "pipe" },
      );
      running.push(second);
      expect((await new Response(second.stdout).text()).trim()).toBe("");
    });

    it("publishes the will of a client that vanishes without DISCONNECT [MQTT-3.1.2-8]", async () => {
      const watcher = await sub(version, `watch-${version}`, ["-q", "1", "-t", "wills/#", "-C", "1"]);
      const dying = await sub(version, `dying-${version}`, [
        "-t",
        "ignored/x",
        "--will-topic",
        "wills/dying",
        "--will-payload",
        "gone",
        "--will-qos",
        "1",
      ]);
      dying.proc.kill(9); // no DISCONNECT: the socket just closes
      expect(await watcher.lines).toEqual(["wills/dying|1|0|gone"]);
    });

    it("a persistent session (-c) receives the QoS 1 messages published while it was offline [MQTT-3.1.2-4]", async () => {
      const id = `persist-${version}`;
      const first = await sub(version, id, ["-c", "-q", "1", "-t", "offline/#"]);
      first.proc.kill("SIGINT"); // clean exit: DISCONNECT, session kept
      await first.proc.exited;
      await until(() => server.listener.bridge.sessions.get(id)?.link === null, 5000, "session detached");
      for (let i = 0; i < 3; i++)
        await pub(version, ["-q", "1", "-t", `offline/${i}`, "-m", `while-away-${i}`]);
      const back = Bun.spawn(
        ["mosquitto_sub", ...base(version), "-i", id, "-c", "-q", "1", "-t", "offline/#"].concat([
          "-F",
          "%t|%q|%p",
          "-C",
          "3",
          "-W",
          "5",
        ]),
        { stdout: "pipe", stderr: "pipe" },
      );
      running.push(back);
      const lines = (await new Response(back.stdout).text()).trim().split("\n");
      expect(lines).toEqual([
        "offline/0|1|while-away-0",
        "offline/1|1|while-away-1",
        "offline/2|1|while-away-2",
      ]);
    });

    it("puts publishes on the mapped stream topic with the MQTT metadata as record headers", async () => {
      const extra = version === "mqttv5" ? ["-D", "publish", "user-property", "unit", "C"] : [];
      await pub(version, ["-q", "1", "-t", "sensors/dev7/temp", "-m", "21.5", ...extra]);
      await pub(version, ["-q", "0", "-t", "other/topic", "-m", "x"]);
      const desc = await server.broker.describeTopic("telemetry");
      const records = [];
      for (const p of desc.partitions) {
        const res = await server.broker.readRecords({
          topic: "telemetry",
          partition: p.partition,
          offset: 0,
        });
        records.push(...res.records);
      }
      expect(records.length).toBe(1);
      const r = records[0]!;
      expect(dec(r.key)).toBe("dev7");
      expect(dec(r.value)).toBe("21.5");
      const headers = Object.fromEntries(r.headers.map((h) => [h.key, dec(h.value)]));
      expect(headers["mqtt.topic"]).toBe("sensors/dev7/temp");
      expect(headers["mqtt.qos"]).toBe("1");
      expect(headers["mqtt.retain"]).toBe("0");
      if (version === "mqttv5") expect(headers.unit).toBe("C");
      // Unmapped topics fall to the default rule: stream topic `mqtt`, key = the MQTT topic.
      const keys: Array<string | null> = [];
      await until(
        () => {
          keys.length = 0;
          for (let p = 0; ; p++) {
            let hw: number;
            try {
              hw = server.broker.partitionState("mqtt", p).highWatermark;
            } catch {
              break;
            }
            if (hw > 0) keys.push(`p${p}`);
          }
          return keys.length > 0;
        },
        3000,
        "QoS 0 record in the log",
      );
      const mqttDesc = await server.broker.describeTopic("mqtt");
      const stored: Array<string | null> = [];
      for (const p of mqttDesc.partitions) {
        const res = await server.broker.readRecords({ topic: "mqtt", partition: p.partition, offset: 0 });
        stored.push(...res.records.map((x) => dec(x.key)));
      }
      expect(stored).toEqual(["other/topic"]);
    });
  });
}

describe("mosquitto_sub (mqttv5) properties", () => {
  it("receives content type and user properties set by mosquitto_pub -D [MQTT-3.3.2-20]", async () => {
    const proc = Bun.spawn(
      [
        "mosquitto_sub",
        ...base("mqttv5"),
        "-i",
        "props",
        "-t",
        "p/#",
        "-F",
        "%t|%C|%P|%p",
        "-C",
        "1",
        "-W",
        "10",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    running.push(proc);
    await until(() => (server.listener.bridge.sessions.get("props")?.subs.size ?? 0) > 0, 5000, "subscribed");
    await pub("mqttv5", [
      "-t",
      "p/1",
      "-m",
      "{}",
      "-D",
      "publish",
      "content-type",
      "application/json",
      "-D",
      "publish",
      "user-property",
      "site",
      "north",
    ]);
    expect((await new Response(proc.stdout).text()).trim()).toBe("p/1|application/json|site:north|{}");
  });
});
