import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { type HttpServer, startHttpServer } from "../../src/http/server.ts";
import type { BrokerApi } from "../../src/broker/index.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
let server: HttpServer;
beforeEach(async () => {
  h = await createHarness({ sseHeartbeatMs: 50 });
  server = await startHttpServer({ app: h.app, host: "127.0.0.1", port: 0, shutdown: h.shutdown });
  await h.json("POST", "/v1/topics", { name: "s" });
});
afterEach(async () => {
  await server.stop({ graceMs: 500 });
  await h.close();
});

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads SSE frames from a fetch response body. */
function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  return {
    async next(): Promise<SseEvent | null> {
      for (;;) {
        const end = buf.indexOf("\n\n");
        if (end >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev: SseEvent = {};
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) ev.comment = line.slice(1).trim();
            else {
              const i = line.indexOf(":");
              const k = line.slice(0, i);
              const v = line.slice(i + 1).trimStart();
              if (k === "id" || k === "event" || k === "data") ev[k] = v;
            }
          }
          return ev;
        }
        const { done, value } = await reader.read();
        if (done) return null;
        buf += decoder.decode(value, { stream: true });
      }
    },
    /** Next event that is a record or an error (skips heartbeats). */
    async nextEvent(): Promise<SseEvent | null> {
      for (;;) {
        const ev = await this.next();
        if (ev === null || ev.event) return ev;
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe("SSE stream", () => {
  it("delivers records produced after connecting, with heartbeats while idle", async () => {
    await h.json("POST", "/v1/topics/s/records", { records: [{ value: "old" }] });
    const ac = new AbortController();
    const res = await fetch(`${server.url}/v1/topics/s/partitions/0/stream`, { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const sse = sseReader(res);
    // Idle stream: heartbeat comments arrive.
    let sawHeartbeat = false;
    for (let i = 0; i < 5 && !sawHeartbeat; i++) sawHeartbeat = (await sse.next())?.comment === "heartbeat";
    expect(sawHeartbeat).toBe(true);

    await h.json("POST", "/v1/topics/s/records", {
      records: [{ key: "k", value: { n: 1 } }, { value: "two" }],
    });
    const first = await sse.nextEvent();
    expect(first).toMatchObject({ event: "record", id: "1" });
    expect(JSON.parse(first?.data ?? "")).toMatchObject({ offset: 1, key: "k", value: { n: 1 } });
    const second = await sse.nextEvent();
    expect(second?.id).toBe("2");
    expect(JSON.parse(second?.data ?? "").value).toBe("two");
    ac.abort();
  });

  it("starts from an offset and resumes after Last-Event-ID", async () => {
    await h.json("POST", "/v1/topics/s/records", { records: [0, 1, 2, 3].map((v) => ({ value: v })) });
    const res = await fetch(`${server.url}/v1/topics/s/partitions/0/stream?offset=earliest`);
    const sse = sseReader(res);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await sse.nextEvent())?.id ?? "");
    expect(ids).toEqual(["0", "1", "2", "3"]);
    await sse.cancel();

    const resumed = await fetch(`${server.url}/v1/topics/s/partitions/0/stream?offset=earliest`, {
      headers: { "last-event-id": "2" },
    });
    const again = sseReader(resumed);
    const ev = await again.nextEvent();
    expect(ev?.id).toBe("3");
    expect(JSON.parse(ev?.data ?? "").value).toBe(3);
    await again.cancel();
  });

  it("answers unknown topics with a JSON 404 before streaming", async () => {
    const res = await fetch(`${server.url}/v1/topics/nope/partitions/0/stream`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TOPIC_NOT_FOUND");
  });

  it("sends an error event and ends when a record cannot be decoded", async () => {
    await h.json("POST", "/v1/topics/s/records", {
      valueEncoding: "string",
      records: [{ value: "not json" }],
    });
    const res = await fetch(`${server.url}/v1/topics/s/partitions/0/stream?offset=0`);
    const sse = sseReader(res);
    const ev = await sse.nextEvent();
    expect(ev?.event).toBe("error");
    expect(JSON.parse(ev?.data ?? "").error.code).toBe("UNSUPPORTED_FORMAT");
    expect(await sse.next()).toBeNull();
  });

  it("ends open streams when the server stops", async () => {
    const res = await fetch(`${server.url}/v1/topics/s/partitions/0/stream`);
    const sse = sseReader(res);
    await sse.next();
    await server.stop({ graceMs: 2000 });
    let ev: SseEvent | null;
    do ev = await sse.next().catch(() => null);
    while (ev !== null);
    expect(ev).toBeNull();
  });

  it("stops waiting in the broker when the client disconnects", async () => {
    const signals: AbortSignal[] = [];
    const spied = await createHarness({
      sseHeartbeatMs: 60_000,
      wrapBroker: (b) =>
        new Proxy(b, {
          get(target, prop) {
            if (prop === "readRecords") {
              return (req: Parameters<BrokerApi["readRecords"]>[0]) => {
                if (req.signal) signals.push(req.signal);
                return target.readRecords(req);
              };
            }
            const v = Reflect.get(target, prop, target);
            return typeof v === "function" ? v.bind(target) : v;
          },
        }),
    });
    const srv = await startHttpServer({ app: spied.app, port: 0, shutdown: spied.shutdown });
    try {
      await spied.json("POST", "/v1/topics", { name: "w" });
      const res = await fetch(`${srv.url}/v1/topics/w/partitions/0/stream`);
      const sse = sseReader(res);
      expect((await sse.next())?.comment).toContain("streaming w/0 from offset 0");
      for (let i = 0; i < 200 && signals.length === 0; i++) await Bun.sleep(5);
      expect(signals).toHaveLength(1);
      expect(signals[0]?.aborted).toBe(false);
      await sse.cancel();
      for (let i = 0; i < 400 && !signals[0]?.aborted; i++) await Bun.sleep(5);
      expect(signals[0]?.aborted).toBe(true);
    } finally {
      await srv.stop({ graceMs: 100 });
      await spied.close();
    }
  });
});
