/** Edge flows: shared redelivery, outbound QoS 2 across reconnect, alias and receive-maximum violations, shutdown. */
import { afterEach, describe, expect, it } from "bun:test";
import type { IDisconnectPacket, IPublishPacket, IPubrelPacket } from "mqtt-packet";
import { rawConnect } from "./raw-client.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function rawSession(port: number, clientId: string, version = 5, extra: Record<string, unknown> = {}) {
  const raw = await rawConnect(port, version);
  raw.send({
    cmd: "connect",
    protocolVersion: version as 4 | 5,
    clientId,
    clean: false,
    keepalive: 0,
    ...extra,
  });
  const ack = await raw.next();
  if (ack?.cmd !== "connack") throw new Error(`expected CONNACK, got ${ack?.cmd}`);
  return { raw, ack };
}

describe("flows", () => {
  it("(MQTT 5.0 section 4.8.2) a shared delivery left unacknowledged by a member that leaves goes to another member", async () => {
    server = await startServer();
    const { raw } = await rawSession(server.listener.port, "lazy-member", 5);
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g/work", qos: 1 }] });
    expect((await raw.next())?.cmd).toBe("suback");
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("work", "job-1", { qos: 1 });
    const first = (await raw.next()) as IPublishPacket;
    expect(first.payload.toString()).toBe("job-1");
    const worker = await server.connect({ protocolVersion: 5 });
    const got = collect(worker);
    await worker.subscribeAsync("$share/g/work", { qos: 1 });
    raw.end(); // never acknowledged
    await raw.closed;
    await until(() => got.length === 1, 3000, "redelivery to the other member");
    expect(got[0]!.payload).toBe("job-1");
  });

  it("[MQTT-4.4.0-1] outbound QoS 2: after PUBREC the PUBREL is resent on reconnect, PUBCOMP ends it", async () => {
    server = await startServer();
    const first = await rawSession(server.listener.port, "q2-out", 4);
    first.raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "q2/out", qos: 2 }] });
    expect((await first.raw.next())?.cmd).toBe("suback");
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("q2/out", "exactly-once", { qos: 2 });
    const p = (await first.raw.next()) as IPublishPacket;
    expect(p.qos).toBe(2);
    first.raw.send({ cmd: "pubrec", messageId: p.messageId! });
    expect(((await first.raw.next()) as IPubrelPacket).messageId).toBe(p.messageId);
    first.raw.end();
    await first.raw.closed;
    const second = await rawSession(server.listener.port, "q2-out", 4);
    const again = (await second.raw.next()) as IPubrelPacket;
    expect(again.cmd).toBe("pubrel");
    expect(again.messageId).toBe(p.messageId);
    second.raw.send({ cmd: "pubcomp", messageId: p.messageId! });
    const session = server.listener.bridge.sessions.get("q2-out")!;
    await until(() => session.inflight.size === 0);
    await expect(second.raw.next(200)).rejects.toThrow("no packet");
    second.raw.end();
  });

  it("[MQTT-3.3.2-9] a topic alias above Topic Alias Maximum is 0x94; an unknown alias is 0x82", async () => {
    server = await startServer({ topicAliasMaximum: 2 });
    const a = await rawSession(server.listener.port, "alias-high", 5);
    a.raw.send({
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("x"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 3 },
    });
    expect(((await a.raw.next()) as IDisconnectPacket).reasonCode).toBe(0x94);
    const b = await rawSession(server.listener.port, "alias-unknown", 5);
    b.raw.send({
      cmd: "publish",
      topic: "",
      payload: Buffer.from("x"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 1 },
    });
    expect(((await b.raw.next()) as IDisconnectPacket).reasonCode).toBe(0x82);
  });

  it("[MQTT-3.3.4-9] more unacknowledged QoS 2 publishes than our Receive Maximum is 0x93", async () => {
    server = await startServer({ receiveMaximum: 2 });
    const { raw } = await rawSession(server.listener.port, "greedy", 5);
    for (let id = 1; id <= 3; id++) {
      raw.send({
        cmd: "publish",
        topic: "rm",
        payload: Buffer.from("x"),
        qos: 2,
        dup: false,
        retain: false,
        messageId: id,
      });
    }
    const seen: Array<string | number | undefined> = [];
    for (;;) {
      const p = await raw.next();
      if (p === null) break;
      seen.push(p.cmd === "disconnect" ? (p as IDisconnectPacket).reasonCode : p.cmd);
    }
    expect(seen).toContain(0x93);
  });

  it("MQTT 3.1.1 has no Receive Maximum: more unacknowledged QoS 1 publishes than ours are paced, not refused", async () => {
    server = await startServer({ receiveMaximum: 4 });
    const { raw } = await rawSession(server.listener.port, "eager", 4);
    const count = 200;
    for (let id = 1; id <= count; id++) {
      raw.send({
        cmd: "publish",
        topic: "paced",
        payload: Buffer.from(`m${id}`),
        qos: 1,
        dup: false,
        retain: false,
        messageId: id,
      });
    }
    const acked: number[] = [];
    while (acked.length < count) {
      const p = await raw.next();
      if (p === null) throw new Error(`connection closed after ${acked.length} PUBACKs`);
      if (p.cmd === "puback") acked.push(p.messageId!);
    }
    expect(acked).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(server.listener.bridge.connections.get("eager")!.inputPauses).toBeGreaterThan(0);
    const stored = await server.broker.readRecords({
      topic: "mqtt",
      partition: 0,
      offset: 0,
      maxRecords: 1000,
    });
    expect(stored.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(
      acked.map((id) => `m${id}`),
    );
  });

  it("closing the listener sends v5 clients DISCONNECT 0x8B and publishes no wills", async () => {
    server = await startServer();
    const watcher = await server.connect({ protocolVersion: 4 });
    const got = collect(watcher);
    await watcher.subscribeAsync("bye/#", { qos: 1 });
    const { raw } = await rawSession(server.listener.port, "shutdown", 5, {
      will: { topic: "bye/will", payload: Buffer.from("x"), qos: 1, retain: false },
    });
    const closing = server.listener.close();
    const d = (await raw.next()) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x8b);
    await closing;
    expect(got.length).toBe(0);
    expect(await server.broker.readRecords({ topic: "mqtt", partition: 0, offset: 0 })).toMatchObject({
      records: [],
    });
  });
});
