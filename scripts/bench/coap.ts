/**
 * CoAP bridge benchmark (issue 6, item 8).
 *
 *   bun scripts/bench/coap.ts [--records N] [--observers N] [--notify-records N] [--window N] [--quick]
 *
 * One invocation, the server (broker on a file log store with the default
 * fsync durability + CoAP listener, rate limit off) on the main thread, the
 * clients on a Worker (the second core), over UDP loopback:
 *
 *  1. baselines, raw Bun.udpSocket, no CoAP: request/response round trips
 *     with the same window as the publish runs (echo), and one-way datagrams
 *     main → worker sent with sendMany as the listener does;
 *  2. NON publishes and CON publishes of 100 B to one topic, `--window`
 *     requests outstanding (lost ones are retransmitted with the same message
 *     id after 1 s); "persisted/s" = records in the log when the last
 *     response (sent only once the record is durable) arrived, divided by time;
 *  3. Observe: `--observers` registrations (one socket, one token each) on a
 *     topic, then `--notify-records` records produced at `--notify-rate`
 *     records/s (offered load = rate × observers); the figure is
 *     notifications received by the worker per second, first to last.
 * Prints each figure with its ratio to the matching baseline.
 */
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { decodeMessage } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { stringOption, uintOption } from "../../bridges/coap/codec/options.ts";

type Job =
  | { kind: "echo"; port: number; count: number; window: number }
  | { kind: "oneway"; expect: number }
  | { kind: "publish"; port: number; count: number; window: number; con: boolean; topic: string }
  | { kind: "observe"; port: number; observers: number; topic: string; expect: number };

interface JobResult {
  ms: number;
  done: number;
  lost?: number;
  port?: number;
  registered?: number;
}

const path1 = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));

// ---------------------------------------------------------------- worker side
async function workerMain(): Promise<void> {
  const post = (m: unknown) => postMessage(m);
  (globalThis as unknown as { onmessage: (ev: MessageEvent<Job>) => void }).onmessage = async (
    ev: MessageEvent<Job>,
  ) => {
    const job = ev.data;
    if (job.kind === "echo") post(await windowed(job.port, job.count, job.window, (mid) => echoBytes(mid)));
    else if (job.kind === "publish") {
      const payload = new Uint8Array(100).fill(0x61);
      const options = [...path1("ps", "data", job.topic), uintOption(OptionNumber.CONTENT_FORMAT, 42)];
      post(
        await windowed(job.port, job.count, job.window, (mid, lap) =>
          encodeMessage({
            type: job.con ? MessageType.CON : MessageType.NON,
            code: Code.PUT,
            messageId: mid,
            // The lap makes every request distinct after the 16-bit message id wraps:
            // otherwise the broker rightly answers it as a retransmission, from its dedup cache.
            token: Uint8Array.of(lap >> 8, lap & 0xff, mid >> 8, mid & 0xff),
            options,
            payload,
          }),
        ),
      );
    } else if (job.kind === "oneway") await oneway(job.expect, post);
    else await observe(job, post);
  };
}

function echoBytes(mid: number): Uint8Array {
  const b = new Uint8Array(120);
  b[0] = mid >> 8;
  b[1] = mid & 0xff;
  return b;
}

/** Send `count` requests with `window` outstanding; a reply's first two bytes or CoAP token name the id. */
async function windowed(
  port: number,
  count: number,
  window: number,
  make: (mid: number, lap: number) => Uint8Array,
): Promise<JobResult> {
  const outstanding = new Map<number, { bytes: Uint8Array; at: number }>();
  let next = 0;
  let done = 0;
  let lost = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const fill = (s: { send(b: Uint8Array, p: number, a: string): boolean }) => {
    while (outstanding.size < window && next < count) {
      const seq = next++;
      const mid = seq & 0xffff;
      const bytes = make(mid, seq >>> 16);
      outstanding.set(mid, { bytes, at: performance.now() });
      s.send(bytes, port, "127.0.0.1");
    }
  };
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, buf) {
        let id: number;
        if (buf.length === 120) id = (buf[0]! << 8) | buf[1]!;
        else {
          const m = decodeMessage(buf);
          if (m.code === Code.EMPTY || m.token.length !== 4) return;
          if (m.code !== Code.CHANGED && m.code !== Code.CREATED) throw new Error(`unexpected ${m.code}`);
          id = (m.token[2]! << 8) | m.token[3]!;
        }
        if (!outstanding.delete(id)) return;
        done++;
        if (done === count) finish();
        else fill(s);
      },
    },
  });
  const timer = setInterval(() => {
    const now = performance.now();
    for (const o of outstanding.values()) {
      if (now - o.at > 1000) {
        lost++;
        o.at = now;
        socket.send(o.bytes, port, "127.0.0.1");
      }
    }
  }, 50);
  const t0 = performance.now();
  fill(socket);
  await finished;
  const ms = performance.now() - t0;
  clearInterval(timer);
  socket.close();
  return { ms, done, lost };
}

/**
 * The receiving socket of the one-way and Observe runs stands for many
 * devices, so it gets a 4 MiB receive buffer (node:dgram can set SO_RCVBUF;
 * Bun.udpSocket cannot); with the default 208 KiB a burst is lost before the
 * worker thread is scheduled.
 */
function bigReceiver(onMessage: (msg: Buffer, port: number, address: string) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 });
  s.on("message", (msg, rinfo) => onMessage(msg, rinfo.port, rinfo.address));
  return new Promise((resolve) => s.bind(0, "127.0.0.1", () => resolve(s)));
}

async function oneway(expect: number, post: (m: unknown) => void): Promise<void> {
  let got = 0;
  let first = 0;
  let last = 0;
  const socket = await bigReceiver(() => {
    if (got === 0) first = performance.now();
    got++;
    last = performance.now();
  });
  post({ port: socket.address().port });
  await idle(() => got, expect);
  socket.close();
  post({ ms: last - first, done: got } satisfies JobResult);
}

/** Wait until `count()` reaches `expect` or stops moving for 1 s. */
async function idle(count: () => number, expect: number): Promise<void> {
  let seen = -1;
  let still = 0;
  while (count() < expect && still < 20) {
    await Bun.sleep(50);
    if (count() === seen) still++;
    else still = 0;
    seen = count();
  }
}

async function observe(job: Extract<Job, { kind: "observe" }>, post: (m: unknown) => void): Promise<void> {
  let registered = 0;
  const answered = new Set<number>();
  let got = 0;
  let first = 0;
  let last = 0;
  const socket = await bigReceiver((buf, port, address) => {
    // Header only (the receiver must keep up): type, code, message id.
    const type = (buf[0]! >> 4) & 3;
    if (type === MessageType.CON) socket.send(Uint8Array.of(0x60, 0, buf[2]!, buf[3]!), port, address);
    if (type === MessageType.ACK) {
      const m = decodeMessage(buf);
      const id = (m.token[1]! << 8) | m.token[2]!;
      if (m.code === Code.CONTENT && !answered.has(id)) {
        answered.add(id);
        registered++;
      }
      return;
    }
    if (buf[1] !== Code.CONTENT) return;
    if (got === 0) first = performance.now();
    got++;
    last = performance.now();
  });
  const pending = new Map<number, Uint8Array>();
  for (let i = 0; i < job.observers; i++) {
    const msg = encodeMessage({
      type: MessageType.CON,
      code: Code.GET,
      messageId: i,
      token: Uint8Array.of(0xbb, i >> 8, i & 0xff),
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path1("ps", "data", job.topic)],
      payload: new Uint8Array(0),
    });
    pending.set(i, msg);
    socket.send(msg, job.port, "127.0.0.1");
    if (i % 100 === 99) await Bun.sleep(5);
  }
  for (let round = 0; round < 20 && registered < job.observers; round++) {
    await Bun.sleep(300);
    for (const [i, msg] of pending) if (!answered.has(i)) socket.send(msg, job.port, "127.0.0.1");
  }
  post({ registered });
  await idle(() => got, job.expect);
  socket.close();
  post({ ms: last - first, done: got, registered } satisfies JobResult);
}

// ---------------------------------------------------------------- main side
async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      records: { type: "string", default: "200000" },
      observers: { type: "string", default: "1000" },
      "notify-records": { type: "string", default: "500" },
      /** Records per second produced to the observed topic (offered notifications/s = this × observers). */
      "notify-rate": { type: "string", default: "200" },
      window: { type: "string", default: "128" },
      quick: { type: "boolean", default: false },
      /** Run one part only (for profiling): non, con or observe. */
      only: { type: "string" },
    },
  });
  const only = args.only;
  const quick = args.quick === true;
  const records = quick ? 20_000 : Number(args.records);
  const observers = Number(args.observers);
  const notifyRecords = quick ? 100 : Number(args["notify-records"]);
  const window = Number(args.window);
  const notifyRate = Number(args["notify-rate"]);

  const { createBroker } = await import("../../src/broker/index.ts");
  const { createFileLogStore } = await import("../../src/log/file-store.ts");
  const { openMetadataStore } = await import("../../src/metadata/index.ts");
  const { silentLogger } = await import("../../src/observability/logger.ts");
  const { systemClock } = await import("../../src/util/clock.ts");
  const { startCoapListener } = await import("../../bridges/coap/index.ts");

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-coap-"));
  const metadata = openMetadataStore({ path: path.join(root, "metadata.db") });
  const logStore = await createFileLogStore({ dataDir: root, clock: systemClock, logger: silentLogger });
  const broker = await createBroker({
    logStore,
    metadata,
    logger: silentLogger,
    clock: systemClock,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: true },
  });
  const listener = await startCoapListener({
    broker,
    logger: silentLogger,
    port: 0,
    rateLimit: false,
    echo: false,
    maxObservers: observers + 10,
  });

  const worker = new Worker(import.meta.url);
  const ask = <T>(job: Job, replies = 1): Promise<T[]> =>
    new Promise((resolve) => {
      const out: T[] = [];
      worker.onmessage = (ev: MessageEvent<T>) => {
        out.push(ev.data);
        if (out.length === replies) resolve(out);
      };
      worker.postMessage(job);
    });

  const rate = (n: number, ms: number) => (n / ms) * 1000;
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  const rows: string[][] = [];
  const row = (name: string, value: number, unit: string, base?: number, target?: string) => {
    rows.push([name, `${fmt(value)} ${unit}`, base ? `${(value / base).toFixed(2)}x` : "—", target ?? "—"]);
  };

  // 1. Baselines (skipped with --only).
  let echoRate = 0;
  let onewayRate = 0;
  if (!only) {
    const echo = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      binaryType: "uint8array",
      socket: {
        data(s, buf, port, address) {
          s.send(buf, port, address);
        },
      },
    });
    const [echoRes] = await ask<JobResult>({ kind: "echo", port: echo.port, count: records, window });
    echo.close();
    echoRate = rate(echoRes!.done, echoRes!.ms);
    row(`UDP echo, window ${window} (baseline)`, echoRate, "round trips/s");

    const onewayCount = quick ? 100_000 : 500_000;
    const onewayDone = new Promise<JobResult>((resolve) => {
      worker.onmessage = async (ev: MessageEvent<{ port?: number } & JobResult>) => {
        if (ev.data.port !== undefined) {
          const sender = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
          const dgram = new Uint8Array(110);
          for (let sent = 0; sent < onewayCount; ) {
            const batch: Array<Uint8Array | number | string> = [];
            for (let i = 0; i < 64 && sent < onewayCount; i++, sent++)
              batch.push(dgram, ev.data.port, "127.0.0.1");
            sender.sendMany(batch);
            if (sent % 4096 === 0) await Bun.sleep(0);
          }
          sender.close();
        } else resolve(ev.data);
      };
      worker.postMessage({ kind: "oneway", expect: onewayCount } satisfies Job);
    });
    const ow = await onewayDone;
    onewayRate = rate(ow.done, ow.ms);
    row("UDP one-way, sendMany (baseline)", onewayRate, "datagrams/s received");
    rows.push(["  (one-way datagrams lost)", `${fmt(onewayCount - ow.done)} of ${fmt(onewayCount)}`, "", ""]);
  }

  // 2. Publishes.
  for (const con of [false, true]) {
    if (only && only !== (con ? "con" : "non")) continue;
    const topic = con ? "bench-con" : "bench-non";
    await broker.createTopic({ name: topic, partitions: 1 });
    const [r] = await ask<JobResult>({
      kind: "publish",
      port: listener.port,
      count: records,
      window,
      con,
      topic,
    });
    const hw = broker.partitionState(topic, 0).highWatermark;
    const d = listener.counters.dropped;
    if (d.malformed + d.oversized + d.outbox_full > 0)
      rows.push(["  (server drops)", JSON.stringify(d), "", ""]);
    if (hw < records) throw new Error(`${topic}: ${hw} records persisted, expected ${records}`);
    row(
      `${con ? "CON" : "NON"} publishes persisted (100 B, fsync)`,
      rate(r!.done, r!.ms),
      "records/s",
      echoRate,
      con ? undefined : "≥ 50,000/s",
    );
    if (r!.lost || hw > records) {
      const what = `${fmt(r!.lost ?? 0)} retransmitted, ${fmt(hw - records)} duplicates stored`;
      rows.push([`  (${con ? "CON" : "NON"} requests lost and retransmitted after 1 s)`, what, "", ""]);
    }
  }

  // 3. Observe fan-out.
  if (only && only !== "observe") return finish();
  const topic = "bench-obs";
  await broker.createTopic({ name: topic, partitions: 1 });
  await broker.produce({ topic, records: [{ value: new Uint8Array(100) }], acks: -1 });
  const expect = observers * notifyRecords;
  const obsDone = new Promise<JobResult>((resolve) => {
    worker.onmessage = async (ev: MessageEvent<JobResult>) => {
      if (ev.data.ms === undefined) {
        if (ev.data.registered !== observers)
          throw new Error(`only ${ev.data.registered} observers registered`);
        const value = new Uint8Array(100).fill(0x62);
        // Paced: `notifyRate` records/s in 10 ms steps, so the offered load is notifyRate × observers/s.
        const t0 = performance.now();
        for (let i = 0; i < notifyRecords; ) {
          const due = Math.min(notifyRecords, Math.ceil(((performance.now() - t0) / 1000) * notifyRate) + 1);
          if (due > i) {
            await broker.produce({
              topic,
              records: Array.from({ length: due - i }, () => ({ value })),
              acks: -1,
            });
            i = due;
          }
          await Bun.sleep(10);
        }
      } else resolve(ev.data);
    };
    worker.postMessage({ kind: "observe", port: listener.port, observers, topic, expect } satisfies Job);
  });
  const obs = await obsDone;
  row(
    `Observe notifications to ${fmt(observers)} observers`,
    rate(obs.done, obs.ms),
    "notifications/s received",
    onewayRate,
    "≥ 100,000/s",
  );
  rows.push(["  (notifications received)", `${fmt(obs.done)} of ${fmt(expect)}`, "", ""]);
  const c = listener.counters;
  rows.push([
    "  (server: intermediate states dropped for saturated observers; datagrams dropped)",
    `${fmt(c.droppedNotifications)}; ${JSON.stringify(c.dropped)}`,
    "",
    "",
  ]);
  return finish();

  async function finish(): Promise<void> {
    worker.terminate();
    await listener.close();
    await broker.close();
    fs.rmSync(root, { recursive: true, force: true });

    const out = [
      `CoAP bridge benchmark · ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"} · Bun ${Bun.version}`,
      `records ${fmt(records)}, window ${window}, observers ${fmt(observers)}, notify records ${fmt(notifyRecords)} at ${fmt(notifyRate)}/s`,
      "",
      "| measure | result | vs baseline | target |",
      "|---|---|---|---|",
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  }
}

if (Bun.isMainThread) await main();
else await workerMain();
