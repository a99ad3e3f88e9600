/**
 * A child edge process for the kill -9 test: opens an edge broker on a file
 * store in argv[2], produces argv[4] records to topic "drain" (2 partitions)
 * if it is empty, and mirrors it into the central cluster at argv[3]
 * slowly (small batches, a bandwidth cap). Prints one JSON line per status
 * sample: {"mirrored":[p0,p1],"hw":[p0,p1]}.
 */
import { startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createEdge, values } from "./helpers.ts";

const [dataDir, bootstrap, countArg] = process.argv.slice(2);
if (!dataDir || !bootstrap || !countArg)
  throw new Error("usage: edge-child.ts <dataDir> <bootstrap> <records>");
const count = Number(countArg);
const edge = await createEdge({ dataDir });
const topics = await edge.listTopics();
if (!topics.some((t) => t.name === "drain")) {
  await edge.createTopic({ name: "drain", partitions: 2 });
  for (let from = 0; from < count; from += 100) {
    for (const p of [0, 1]) {
      await edge.produce({
        topic: "drain",
        partition: p,
        records: values(Math.min(100, count - from), from, `p${p}-`),
      });
    }
  }
}
const mirror = await startMirror({
  broker: edge,
  links: [
    {
      name: "k9",
      bootstrap_servers: [bootstrap],
      topics: ["drain"],
      source_id: "gw",
      retry_backoff_ms: 20,
      max_backoff_ms: 200,
      request_timeout_ms: 2000,
      batch: { max_records: 25, linger_ms: 0 },
      bandwidth_bytes_per_sec: 60_000,
    },
  ],
  logger: silentLogger,
  clock: systemClock,
});
setInterval(() => {
  const s = mirror.status()[0];
  const parts = [0, 1].map((p) => s?.partitions.find((x) => x.partition === p));
  console.log(
    JSON.stringify({
      mirrored: parts.map((p) => p?.mirroredOffset ?? 0),
      hw: parts.map((p) => p?.highWatermark ?? 0),
    }),
  );
}, 20);
