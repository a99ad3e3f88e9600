/**
 * A live stream of one partition as Server-Sent Events (text/event-stream).
 *
 * Each record is one `event: record` whose id is its offset and whose data is
 * the record as JSON (the same shape as GET .../records). The stream waits for
 * new records (broker.readRecords long-poll), sends a `: heartbeat` comment
 * when nothing arrived for sseHeartbeatMs, and stops when the client goes
 * away or the server shuts down. A reconnecting EventSource sends
 * Last-Event-ID, and the stream resumes after that offset. A problem after
 * the stream began (e.g. a value that is not JSON) is sent as `event: error`
 * with the usual error body, then the stream ends.
 */
import type { Context } from "hono";
import { z } from "zod";
import type { BrokerApi } from "../../broker/index.ts";
import { toEddyError } from "../../errors.ts";
import type { HttpDeps } from "../deps.ts";
import { encodingSchema, headerEncodingSchema } from "../encoding.ts";
import { errorBody } from "../errors.ts";
import type { ApiRouter } from "../openapi.ts";
import { partitionParams } from "../schemas.ts";
import { encodeRecord, type RecordEncodings, resolveStartOffset, startOffsetSchema } from "./record-json.ts";

const streamQuery = z.object({
  offset: startOffsetSchema.default("latest"),
  keyEncoding: encodingSchema.default("string"),
  valueEncoding: encodingSchema.default("json"),
  headerEncoding: headerEncodingSchema.default("string"),
});

const BATCH = 500;
const utf8 = new TextEncoder();

export function registerStreamRoutes(router: ApiRouter, deps: HttpDeps): void {
  router.add(
    {
      method: "get",
      path: "/v1/topics/{topic}/partitions/{partition}/stream",
      tag: "records",
      summary: "Live stream of records from an offset (Server-Sent Events)",
      description:
        "One `record` event per record (id = offset, data = the record as JSON); `: heartbeat` comments " +
        "while idle; honours Last-Event-ID. Default offset: latest (only new records).",
      params: partitionParams,
      query: streamQuery,
      responses: { 200: { description: "An endless event stream", contentType: "text/event-stream" } },
    },
    async (c, { params, query }) => {
      const { topic, partition } = params;
      const resumeAfter = lastEventId(c);
      const offset =
        resumeAfter !== null
          ? resumeAfter + 1
          : await resolveStartOffset(deps.broker, topic, partition, query.offset);
      // Fail before the stream starts (unknown topic, bad partition) with a normal JSON error.
      deps.broker.partitionState(topic, partition);
      const body = sseBody({
        deps,
        broker: deps.broker,
        topic,
        partition,
        offset,
        enc: query,
        request: c.req.raw,
      });
      return new Response(body, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        },
      });
    },
  );
}

function lastEventId(c: Context): number | null {
  const raw = c.req.header("last-event-id");
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return null;
  const n = Number(raw.trim());
  return Number.isSafeInteger(n) ? n : null;
}

function sseBody(opts: {
  deps: HttpDeps;
  broker: BrokerApi;
  topic: string;
  partition: number;
  offset: number;
  enc: RecordEncodings;
  request: Request;
}): ReadableStream<Uint8Array> {
  const { deps, broker, topic, partition, enc } = opts;
  let offset = opts.offset;
  const ac = new AbortController();
  const abort = () => ac.abort();
  opts.request.signal.addEventListener("abort", abort, { once: true });
  deps.shutdownSignal.addEventListener("abort", abort, { once: true });
  const cleanup = () => {
    opts.request.signal.removeEventListener("abort", abort);
    deps.shutdownSignal.removeEventListener("abort", abort);
  };
  if (deps.shutdownSignal.aborted) ac.abort();

  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(
        utf8.encode(`retry: 1000\n: streaming ${topic}/${partition} from offset ${offset}\n\n`),
      );
    },
    async pull(controller) {
      if (ac.signal.aborted) {
        cleanup();
        controller.close();
        return;
      }
      try {
        const res = await broker.readRecords({
          topic,
          partition,
          offset,
          maxRecords: BATCH,
          maxWaitMs: deps.sseHeartbeatMs,
          signal: ac.signal,
        });
        if (ac.signal.aborted) throw ac.signal.reason;
        let chunk = "";
        for (const r of res.records) {
          if (r.offset < offset) continue;
          chunk += `id: ${r.offset}\nevent: record\ndata: ${JSON.stringify(encodeRecord(r, enc))}\n\n`;
          offset = r.offset + 1;
        }
        if (res.nextOffset > offset) offset = res.nextOffset;
        controller.enqueue(utf8.encode(chunk || ": heartbeat\n\n"));
      } catch (err) {
        cleanup();
        if (!ac.signal.aborted) {
          const body = errorBody(toEddyError(err));
          controller.enqueue(utf8.encode(`event: error\ndata: ${JSON.stringify(body)}\n\n`));
          deps.logger.debug("sse stream ended by an error", { topic, partition, code: body.error.code });
        }
        controller.close();
      }
    },
    cancel() {
      ac.abort();
      cleanup();
    },
  });
}
