/**
 * MQTT authentication in the compiled binary: with [auth.users] (a hash from
 * `eddy passwd`) MQTT may listen on a non-loopback address without
 * allow_anonymous, and CONNECT needs the user's name and password.
 */
import { afterAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { BIN, useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();
const clients: MqttClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
});

async function connectCode(url: string, opts: mqtt.IClientOptions): Promise<number | "ok"> {
  try {
    clients.push(await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }));
    return "ok";
  } catch (err) {
    return (err as { code: number }).code;
  }
}

describe("compiled binary: MQTT CONNECT checked against auth.users", () => {
  it("binds 0.0.0.0 without allow_anonymous and refuses missing or wrong credentials", async () => {
    const dir = tmpDir();
    const user = Bun.spawnSync([BIN, "passwd", "--user", "dev"], { stdin: Buffer.from("pa55word\n") });
    expect(user.exitCode).toBe(0);
    const config = path.join(dir, "eddy.toml");
    fs.writeFileSync(config, user.stdout.toString());
    const broker = await start(path.join(dir, "data"), [
      "--config",
      config,
      "--mqtt-listen",
      "0.0.0.0:0",
      "--set",
      "listeners.coap=off",
    ]);
    const port = Number(broker.listeners.mqtt!.split(":").pop());
    const url = `mqtt://127.0.0.1:${port}`;
    expect(await connectCode(url, { protocolVersion: 5, clientId: "anon" })).toBe(0x86);
    expect(
      await connectCode(url, { protocolVersion: 4, clientId: "bad", username: "dev", password: "nope" }),
    ).toBe(4);
    expect(
      await connectCode(url, { protocolVersion: 5, clientId: "good", username: "dev", password: "pa55word" }),
    ).toBe("ok");
  });
});
