/** Where `eddy consume` starts reading each partition. */
import type { CliBackend } from "../backend.ts";
import { ApiError } from "../client.ts";

export interface StartOptions {
  topic: string;
  partitions: number[];
  group: string | undefined;
  /** Explicit --offset (overrides committed offsets). */
  offset: "earliest" | "latest" | number | undefined;
  fromBeginning: boolean;
}

/**
 * Explicit --offset wins; else the group's committed offset; else earliest
 * with --from-beginning, latest without (Kafka's console consumer defaults).
 */
export async function startOffsets(api: CliBackend, opts: StartOptions): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const committed = new Map<number, number>();
  if (opts.group !== undefined && opts.offset === undefined) {
    try {
      for (const o of await api.describeGroup(opts.group)) {
        if (o.topic === opts.topic && o.committedOffset >= 0) committed.set(o.partition, o.committedOffset);
      }
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === "GROUP_NOT_FOUND" || err.code === "NOT_FOUND")))
        throw err;
    }
  }
  for (const p of opts.partitions) {
    const c = committed.get(p);
    if (typeof opts.offset === "number") out.set(p, opts.offset);
    else if (opts.offset === undefined && c !== undefined) out.set(p, c);
    else {
      const at = opts.offset ?? (opts.fromBeginning ? "earliest" : "latest");
      out.set(p, await api.listOffset(opts.topic, p, at));
    }
  }
  return out;
}
