/** The shared decoded message window gives memory back when subscribers leave, catch up or fall behind it. */
import { afterEach, describe, expect, it } from "bun:test";
import type { IPublishPacket } from "mqtt-packet";
import { compileMapping } from "../../bridges/mqtt/mapping.ts";
import { MessageWindows } from "../../bridges/mqtt/message-window.ts";
import { partitionKey } from "../../bridges/mqtt/log-follower.ts";
import { startServer, type TestServer, until } from "./harness.ts";
import { rawConnect } from "./raw-client.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const enc = (s: string) => new TextEncoder().encode(s);

/** `n` records on stream topic `mqtt`, partition 0, visible to MQTT topic "w" (the default reverse rule). */
async function produce(s: TestServer, n: number): Promise<void> {
  const records = Array.from({ length: n }, (_, i) => ({ key: enc("w"), value: enc(`r${i}`) }));
  await s.broker.produce({ topic: "mqtt", partition: 0, acks: -1, records });
}

describe("message window", () => {
  it("trim drops entries before the slowest reader inside the window, and the window with no reader in it", async () => {
    server = await startServer({ partitions: 1 });
    await produce(server, 100);
    const windows = new MessageWindows(server.broker, compileMapping(undefined));
    const key = partitionKey("mqtt", 0);
    const slice = await windows.read("mqtt", 0, 0);
    expect(slice.entries.length).toBe(100);
    expect(windows.size()).toEqual({ partitions: 1, entries: 100 });

    windows.trim(new Map([[key, [60, 40]]]));
    expect(windows.size()).toEqual({ partitions: 1, entries: 60 });
    // A slice handed out before the trim is untouched.
    expect(slice.entries.length).toBe(100);
    const again = await windows.read("mqtt", 0, 40);
    expect(again.entries[again.index]!.offset).toBe(40);

    // A reader behind the window reads past it on its own: it keeps nothing alive.
    const behind = await windows.read("mqtt", 0, 10);
    expect(behind.entries[behind.index]!.offset).toBe(10);
    windows.trim(new Map([[key, [10]]]));
    expect(windows.size()).toEqual({ partitions: 0, entries: 0 });

    // Readers caught up at the end need none of it.
    await windows.read("mqtt", 0, 0);
    windows.trim(new Map([[key, [100]]]));
    expect(windows.size()).toEqual({ partitions: 1, entries: 0 });
    await produce(server, 5);
    const next = await windows.read("mqtt", 0, 100);
    expect(next.entries.slice(next.index).map((e) => e.offset)).toEqual([100, 101, 102, 103, 104]);

    // No reader at all (every subscriber left): the window goes.
    windows.trim(new Map());
    expect(windows.size()).toEqual({ partitions: 0, entries: 0 });
  });

  it("the bridge releases the window when a lagging subscriber leaves", async () => {
    server = await startServer({ partitions: 1 });
    const bridge = server.listener.bridge;
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "laggard",
      clean: true,
      keepalive: 0,
      properties: { receiveMaximum: 1 },
    });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "w", qos: 1 }] });
    expect((await raw.next())?.cmd).toBe("suback");
    await produce(server, 200);
    const first = (await raw.next()) as IPublishPacket;
    expect(first.payload.toString()).toBe("r0");
    // Never acknowledged: the session waits at offset 1; the sweep trims up to it.
    await until(() => bridge.windows.size().entries === 199, 3000, "trim to the reader");
    raw.send({ cmd: "puback", messageId: first.messageId! });
    const second = (await raw.next()) as IPublishPacket;
    expect(second.payload.toString()).toBe("r1");
    await until(() => bridge.windows.size().entries === 198, 3000, "trim follows the reader");
    raw.end();
    await raw.closed;
    await until(() => bridge.windows.size().partitions === 0, 3000, "window released");
    expect(bridge.windows.size().entries).toBe(0);
  });
});
