/**
 * ACLs from a config file in the compiled binary, seen by Debian's
 * mosquitto_sub / mosquitto_pub: a refused subscription (SUBACK 0x80,
 * "All subscription requests were denied"), a refused publish (v5 PUBACK
 * 0x87 "Not authorized"; 3.1.1 acknowledged and dropped) and an allowed
 * publish that reaches the allowed subscriber.
 */
import { describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();

const CONFIG = `
[auth.users.alice]
password = "pw-alice"
[auth.users.bob]
password = "pw-bob"

[[auth.acl.users.alice]]
filter = "alice/#"
access = "readwrite"
[[auth.acl.users.alice]]
filter = "news/#"
access = "read"

[[auth.acl.users.bob]]
filter = "news/#"
access = "write"
`;

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, out, err };
}

describe("compiled binary: [auth.acl] with mosquitto clients", () => {
  it("[MQTT-3.9.3-2] refuses a subscription (0x80) and a publish (v5 0x87) the ACL does not grant", async () => {
    const dir = tmpDir();
    const config = path.join(dir, "eddy.toml");
    fs.writeFileSync(config, CONFIG);
    const broker = await start(path.join(dir, "data"), ["--config", config, "--set", "listeners.coap=off"]);
    const port = broker.listeners.mqtt!.split(":").pop()!;
    const base = ["-h", "127.0.0.1", "-p", port];

    for (const v of ["mqttv311", "mqttv5"]) {
      // alice may not read bob/#: every filter refused.
      const denied = await run([
        "mosquitto_sub",
        ...base,
        "-V",
        v,
        "-u",
        "alice",
        "-P",
        "pw-alice",
        "-t",
        "bob/#",
        "-W",
        "5",
      ]);
      expect(denied.err).toContain("All subscription requests were denied");
    }

    // alice subscribes to news/# (allowed) and waits for one message.
    const sub = Bun.spawn(
      [
        "mosquitto_sub",
        ...base,
        "-V",
        "mqttv5",
        "-u",
        "alice",
        "-P",
        "pw-alice",
        "-t",
        "news/#",
        "-F",
        "%t|%p",
        "-C",
        "1",
        "-W",
        "10",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const subOut = new Response(sub.stdout).text();

    // bob may not publish to alice/x: v5 PUBACK 0x87; 3.1.1 acknowledged and dropped.
    const v5 = await run([
      "mosquitto_pub",
      ...base,
      "-V",
      "mqttv5",
      "-u",
      "bob",
      "-P",
      "pw-bob",
      "-q",
      "1",
      "-t",
      "alice/x",
      "-m",
      "no",
    ]);
    expect(v5.err).toContain("Not authorized");
    const v3 = await run([
      "mosquitto_pub",
      ...base,
      "-V",
      "mqttv311",
      "-u",
      "bob",
      "-P",
      "pw-bob",
      "-q",
      "1",
      "-t",
      "alice/x",
      "-m",
      "no",
    ]);
    expect(v3.code).toBe(0);

    // bob's allowed publish reaches alice (retry until her subscription is in place).
    for (let i = 0; i < 50 && sub.exitCode === null; i++) {
      await run([
        "mosquitto_pub",
        ...base,
        "-u",
        "bob",
        "-P",
        "pw-bob",
        "-q",
        "1",
        "-t",
        "news/a",
        "-m",
        "yes",
      ]);
      await Bun.sleep(100);
    }
    await sub.exited;
    const lines = (await subOut).split("\n").filter((l) => l.includes("|"));
    expect(lines).toEqual(["news/a|yes"]);
  }, 60_000);
});
