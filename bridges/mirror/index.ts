/**
 * The mirror bridge: store-and-forward of edge topics into a central Kafka
 * cluster (see README.md). src/main.ts starts it with the configured links:
 *
 *   const mirror = await startMirror({ broker, links, logger, clock });
 *   mirror.status();   // per link and partition, for HTTP, /metrics, the CLI
 *   await mirror.close();
 *
 * Progress lives in the edge topic `__mirror_progress`; links hold the
 * retention of what they still owe with BrokerApi.setRetentionFloor, set
 * before startMirror resolves (start it right after the broker) and released
 * by close(). A link's optional downlink mirrors central topics into edge
 * topics (status: `downlink[]`).
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { type MirrorLinkConfig, type MirrorLinkInput, parseMirrorLinks } from "./config.ts";
import { MirrorLink } from "./link.ts";
import { ProgressStore } from "./progress.ts";
import type { MirrorLinkStatus } from "./status.ts";

export type { MirrorDownlinkConfig, MirrorLinkConfig, MirrorLinkInput } from "./config.ts";
export { mirrorLinkSchema, mirrorLinksSchema, parseMirrorLinks } from "./config.ts";
export { PROGRESS_TOPIC } from "./progress.ts";
export type {
  MirrorDownlinkPartitionStatus,
  MirrorLinkStatus,
  MirrorPartitionStatus,
  SkippedRange,
} from "./status.ts";
export { MirrorState } from "./status.ts";

export interface MirrorOptions {
  broker: BrokerApi;
  /** Link configs, validated here (raw input or already parsed). */
  links: ReadonlyArray<MirrorLinkInput | MirrorLinkConfig>;
  logger: Logger;
  clock: Clock;
  /** `{source.id}` for remote topic names and record headers; default: the broker's cluster id. */
  sourceId?: string;
}

export interface Mirror {
  status(): MirrorLinkStatus[];
  /** Look for newly matching edge topics now (otherwise every discovery interval). */
  discover(): Promise<void>;
  close(): Promise<void>;
}

export async function startMirror(opts: MirrorOptions): Promise<Mirror> {
  const configs = parseMirrorLinks(opts.links).filter((l) => l.enabled);
  const logger = opts.logger.child({ component: "mirror" });
  if (configs.length === 0) {
    return { status: () => [], discover: async () => {}, close: async () => {} };
  }
  const progress = await ProgressStore.open(opts.broker, opts.clock);
  const links = configs.map(
    (config) =>
      new MirrorLink({
        broker: opts.broker,
        config,
        logger,
        clock: opts.clock,
        progress,
        sourceId: config.source_id ?? opts.sourceId ?? opts.broker.clusterId,
      }),
  );
  const started: MirrorLink[] = [];
  try {
    for (const link of links) {
      await link.start();
      started.push(link);
    }
  } catch (err) {
    await Promise.allSettled(started.map((l) => l.close()));
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    status: () => links.map((l) => l.status()),
    discover: async () => {
      await Promise.all(links.map((l) => l.discover()));
    },
    close() {
      closing ??= Promise.allSettled(links.map((l) => l.close())).then(() => {
        logger.info("mirror stopped");
      });
      return closing;
    },
  };
}
