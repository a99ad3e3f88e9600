/**
 * The MQTT benchmark's workloads (issue 3, item 9), each run against one
 * server port by the same load generator (mqtt-load.ts):
 *
 *  a. fan-in QoS 0: P publishers flood `bench/<i>` with 100 B messages, one
 *     subscriber on `bench/#` — messages/s received;
 *  b. QoS 1: P publishers keep `window` PUBLISHes unacknowledged each on
 *     `qos1/<i>`; a QoS 1 subscriber on `qos1/#` acknowledges everything — PUBACKs/s and the
 *     share of acknowledged messages delivered;
 *  c. QoS 1 latency at a fixed rate: publish → PUBACK and publish → delivery, p50/p99;
 *  d. RSS per idle connection: N clients connected and idle;
 *  e. fan-out QoS 0: one publisher, N subscribers on `fan/#` — deliveries/s.
 */
import {
  type Frame,
  LoadClient,
  publishTemplate,
  pubacks,
  repeatPublish,
  subscribePacket,
} from "./mqtt-load.ts";

export interface Measure {
  /** Figures by name (rates per second, milliseconds, bytes). */
  values: Record<string, number>;
  /** Share of one core the load generator used during the measured window. */
  generatorCpu: number;
}

const PAYLOAD = 100;

async function subscriber(
  port: number,
  id: string,
  filter: string,
  qos: 0 | 1,
  onPublish: (f: Frame) => void,
): Promise<LoadClient> {
  let subacked!: () => void;
  const acked = new Promise<void>((r) => {
    subacked = r;
  });
  const ids: number[] = [];
  let scheduled = false;
  const client = await LoadClient.open(port, id, {
    frame(f, c) {
      if (f.type === 9) subacked();
      if (f.type !== 3) return;
      onPublish(f);
      if (f.qos === 1) {
        ids.push(f.id);
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(() => {
            scheduled = false;
            c.write(pubacks(ids.splice(0)));
          });
        }
      }
    },
  });
  client.write(subscribePacket(filter, qos));
  await acked;
  return client;
}

/** Keep writing `chunk` while the socket takes it (yielding to the event loop between bursts). */
function flood(client: LoadClient, chunk: Uint8Array, running: () => boolean, onChunk: () => void): void {
  const pump = () => {
    for (let i = 0; i < 8 && running() && client.idle && !client.closed; i++) {
      client.write(chunk);
      onChunk();
    }
    if (running() && client.idle && !client.closed) setImmediate(pump);
  };
  (client.handlers as { drain?: () => void }).drain = pump;
  pump();
}

/** Run `body` for warm-up + `seconds`, returning counter deltas over the measured window only. */
async function window<T extends Record<string, number>>(
  seconds: number,
  counters: () => T,
): Promise<{ rates: T; cpu: number; totals: T }> {
  await Bun.sleep(1000);
  const before = counters();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const after = counters();
  const elapsed = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  const rates = {} as Record<string, number>;
  for (const k of Object.keys(after)) rates[k] = (after[k]! - before[k]!) / elapsed;
  return { rates: rates as T, cpu: (used.user + used.system) / 1e6 / elapsed, totals: after };
}

export async function fanIn(port: number, o: { publishers: number; seconds: number }): Promise<Measure> {
  let received = 0;
  let sent = 0;
  let running = true;
  const sub = await subscriber(port, "a-sub", "bench/#", 0, () => {
    received++;
  });
  const pubs = await Promise.all(
    Array.from({ length: o.publishers }, (_, i) => LoadClient.open(port, `a-pub-${i}`)),
  );
  const per = 256;
  pubs.forEach((c, i) => {
    const chunk = repeatPublish(publishTemplate(`bench/${i}`, 0, PAYLOAD), per, 0, 0);
    flood(
      c,
      chunk,
      () => running,
      () => {
        sent += per;
      },
    );
  });
  const w = await window(o.seconds, () => ({ received, sent }));
  running = false;
  for (const c of [...pubs, sub]) c.end();
  return { values: { "received/s": w.rates.received, "sent/s": w.rates.sent }, generatorCpu: w.cpu };
}

export async function qos1(
  port: number,
  o: { publishers: number; window: number; seconds: number },
): Promise<Measure> {
  let delivered = 0;
  let acked = 0;
  let running = true;
  const sub = await subscriber(port, "b-sub", "qos1/#", 1, () => {
    delivered++;
  });
  const pubs: LoadClient[] = [];
  for (let i = 0; i < o.publishers; i++) {
    const tpl = publishTemplate(`qos1/${i}`, 1, PAYLOAD);
    let nextId = 1;
    let owed = 0;
    let scheduled = false;
    const send = (c: LoadClient, n: number) => {
      c.write(repeatPublish(tpl, n, nextId, 1));
      nextId = ((nextId - 1 + n) % 65535) + 1;
    };
    const c = await LoadClient.open(port, `b-pub-${i}`, {
      frame(f, client) {
        if (f.type !== 4) return;
        acked++;
        owed++;
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(() => {
            scheduled = false;
            if (running && owed > 0) send(client, owed);
            owed = 0;
          });
        }
      },
    });
    pubs.push(c);
    send(c, o.window);
  }
  const w = await window(o.seconds, () => ({ acked, delivered }));
  running = false;
  // Let outstanding deliveries arrive (until the count stops moving, at most 10 s).
  let last = -1;
  for (let waited = 0; waited < 10_000 && delivered !== last; waited += 500) {
    last = delivered;
    await Bun.sleep(500);
  }
  for (const c of [...pubs, sub]) c.end();
  return {
    values: {
      "acked/s": w.rates.acked,
      "delivered/s": w.rates.delivered,
      "delivered share %": (100 * delivered) / Math.max(1, acked),
    },
    generatorCpu: w.cpu,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function latency(port: number, o: { rate: number; seconds: number }): Promise<Measure> {
  const sentAt = new Float64Array(o.rate * (o.seconds + 2) + 1000);
  const ackLat: number[] = [];
  const delLat: number[] = [];
  let measuring = false;
  const sub = await subscriber(port, "c-sub", "lat/#", 1, (f) => {
    const b = f.buf;
    const seq =
      ((b[f.payloadAt]! << 24) |
        (b[f.payloadAt + 1]! << 16) |
        (b[f.payloadAt + 2]! << 8) |
        b[f.payloadAt + 3]!) >>>
      0;
    if (measuring && seq < sentAt.length && sentAt[seq]! > 0) delLat.push(performance.now() - sentAt[seq]!);
  });
  const tpl = publishTemplate("lat/0", 1, PAYLOAD);
  const seqOfId = new Int32Array(65536).fill(-1);
  const pub = await LoadClient.open(port, "c-pub", {
    frame(f) {
      if (f.type !== 4) return;
      const seq = seqOfId[f.id]!;
      outstanding--;
      if (measuring && seq >= 0) ackLat.push(performance.now() - sentAt[seq]!);
    },
  });
  let seq = 0;
  let outstanding = 0;
  const start = performance.now();
  const total = o.rate * (o.seconds + 1);
  const timer = setInterval(() => {
    // Messages due by now, within the 100 in flight that the server's Receive Maximum allows;
    // latency counts from the write (the timer's jitter on this shared machine would swamp it).
    const due = Math.min(total, Math.floor(((performance.now() - start) * o.rate) / 1000)) - seq;
    const n = Math.min(due, 100 - outstanding);
    if (n <= 0) return;
    outstanding += n;
    const out = repeatPublish(tpl, n, 1, 1);
    const now = performance.now();
    for (let k = 0; k < n; k++, seq++) {
      const base = k * tpl.bytes.length;
      const id = (seq % 65535) + 1;
      out[base + tpl.idAt] = id >> 8;
      out[base + tpl.idAt + 1] = id & 0xff;
      const p = base + tpl.payloadAt;
      out[p] = seq >>> 24;
      out[p + 1] = (seq >>> 16) & 0xff;
      out[p + 2] = (seq >>> 8) & 0xff;
      out[p + 3] = seq & 0xff;
      seqOfId[id] = seq;
      sentAt[seq] = now;
    }
    pub.write(out);
  }, 1);
  await Bun.sleep(1000);
  measuring = true;
  const cpu0 = process.cpuUsage();
  await Bun.sleep(o.seconds * 1000);
  const used = process.cpuUsage(cpu0);
  clearInterval(timer);
  await Bun.sleep(300);
  measuring = false;
  pub.end();
  sub.end();
  ackLat.sort((x, y) => x - y);
  delLat.sort((x, y) => x - y);
  return {
    values: {
      "puback p50 ms": percentile(ackLat, 50),
      "puback p99 ms": percentile(ackLat, 99),
      "delivery p50 ms": percentile(delLat, 50),
      "delivery p99 ms": percentile(delLat, 99),
      "delivered/s": delLat.length / o.seconds,
    },
    generatorCpu: (used.user + used.system) / 1e6 / o.seconds,
  };
}

export async function idleRss(
  port: number,
  o: { clients: number; rss: () => number; collect: () => Promise<void> },
): Promise<Measure> {
  await o.collect();
  const before = o.rss();
  const clients: LoadClient[] = [];
  for (let i = 0; i < o.clients; i += 250) {
    const n = Math.min(250, o.clients - i);
    clients.push(
      ...(await Promise.all(Array.from({ length: n }, (_, k) => LoadClient.open(port, `d-${i + k}`)))),
    );
  }
  await Bun.sleep(1000);
  await o.collect();
  const after = o.rss();
  for (const c of clients) c.end();
  await Bun.sleep(1000);
  return {
    values: { "KB per connection": (after - before) / o.clients / 1024, "RSS MB": after / 1024 / 1024 },
    generatorCpu: 0,
  };
}

export async function fanOut(port: number, o: { subscribers: number; seconds: number }): Promise<Measure> {
  let received = 0;
  let sent = 0;
  let running = true;
  const subs: LoadClient[] = [];
  for (let i = 0; i < o.subscribers; i++) {
    subs.push(
      await subscriber(port, `e-sub-${i}`, "fan/#", 0, () => {
        received++;
      }),
    );
  }
  const pub = await LoadClient.open(port, "e-pub");
  const per = 64;
  flood(
    pub,
    repeatPublish(publishTemplate("fan/x", 0, PAYLOAD), per, 0, 0),
    () => running,
    () => {
      sent += per;
    },
  );
  const w = await window(o.seconds, () => ({ received, sent }));
  running = false;
  for (const c of [pub, ...subs]) c.end();
  return { values: { "deliveries/s": w.rates.received, "sent/s": w.rates.sent }, generatorCpu: w.cpu };
}
