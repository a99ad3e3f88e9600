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
 *
 * Links can also be added, replaced and removed at runtime (the HTTP API):
 * `addLink(name, json)` / `removeLink(name)`. Those are stored in the edge
 * topic `__mirror_links` and started again by the next startMirror; a config
 * link of the same name wins (the stored one is skipped with a warning).
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { EddyError, ErrorCode } from "../../src/broker/index.ts";
import { type MirrorLinkConfig, type MirrorLinkInput, mirrorLinkSchema, parseMirrorLinks } from "./config.ts";
import { MirrorLink } from "./link.ts";
import { LinkStore } from "./link-store.ts";
import { ProgressStore } from "./progress.ts";
import type { MirrorLinkStatus } from "./status.ts";

export type { MirrorDownlinkConfig, MirrorLinkConfig, MirrorLinkInput } from "./config.ts";
export { mirrorLinkSchema, mirrorLinksSchema, parseMirrorLinks } from "./config.ts";
export { LINKS_TOPIC } from "./link-store.ts";
export { attachMirrorDownlinkMetrics } from "./metrics.ts";
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

export interface AddLinkResult {
  /** false: a link of that name was replaced. */
  created: boolean;
  /** The link's status right after it started (undefined for `enabled = false`: stored, not running). */
  status: MirrorLinkStatus | undefined;
}

export interface Mirror {
  status(): MirrorLinkStatus[];
  /** Look for newly matching edge topics now (otherwise every discovery interval). */
  discover(): Promise<void>;
  /**
   * Create or replace an API-managed link from its JSON (snake_case keys like
   * a [[mirror.links]] table; `name` may be omitted). Validated like config
   * (INVALID_CONFIG naming the key path), stored in `__mirror_links`, then
   * started; a replaced link is stopped first (its progress is kept).
   * INVALID_REQUEST for a name defined in config (config wins).
   */
  addLink(name: string, input: unknown): Promise<AddLinkResult>;
  /** Stop an API-managed link, release its retention floors, forget it. NOT_FOUND if there is none; INVALID_REQUEST for a config link. */
  removeLink(name: string): Promise<void>;
  close(): Promise<void>;
}

type Source = "config" | "api";

export async function startMirror(opts: MirrorOptions): Promise<Mirror> {
  const all = parseMirrorLinks(opts.links);
  const configNames = new Set(all.map((l) => l.name));
  const logger = opts.logger.child({ component: "mirror" });
  const store = await LinkStore.open(opts.broker);
  for (const name of store.unreadable) {
    logger.warn("a stored mirror link is unreadable and was skipped; PUT it again or DELETE it", {
      link: name,
    });
  }
  const startup: Array<{ config: MirrorLinkConfig; source: Source }> = all
    .filter((l) => l.enabled)
    .map((config) => ({ config, source: "config" }));
  for (const [name, input] of store.entries()) {
    if (configNames.has(name)) {
      logger.warn(
        "mirror link from the HTTP API skipped: eddy.toml defines a link of the same name, and config wins",
        {
          link: name,
        },
      );
      continue;
    }
    try {
      const config = parseApiLink(name, input);
      if (config.enabled) startup.push({ config, source: "api" });
    } catch (err) {
      logger.warn("stored mirror link is invalid and was skipped; PUT it again or DELETE it", {
        link: name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  let progress: Promise<ProgressStore> | undefined;
  const openProgress = (): Promise<ProgressStore> => {
    progress ??= ProgressStore.open(opts.broker, opts.clock).catch((err) => {
      progress = undefined;
      throw err;
    });
    return progress;
  };
  const running = new Map<string, { link: MirrorLink; source: Source }>();
  const startLink = async (config: MirrorLinkConfig, source: Source): Promise<MirrorLink> => {
    const link = new MirrorLink({
      broker: opts.broker,
      config,
      logger,
      clock: opts.clock,
      progress: await openProgress(),
      sourceId: config.source_id ?? opts.sourceId ?? opts.broker.clusterId,
    });
    try {
      await link.start();
    } catch (err) {
      await link.close().catch(() => {});
      throw err;
    }
    running.set(config.name, { link, source });
    return link;
  };

  try {
    for (const { config, source } of startup) await startLink(config, source);
  } catch (err) {
    await Promise.allSettled([...running.values()].map((r) => r.link.close()));
    throw err;
  }

  // addLink/removeLink run one at a time (a link is stopped before its replacement starts).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => {});
    return next;
  };
  let closing: Promise<void> | undefined;
  const refuseConfigLink = (name: string, action: string): void => {
    if (!configNames.has(name)) return;
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `mirror link '${name}' is defined in eddy.toml, which wins over the HTTP API: ${action} it there and restart, or use another name`,
      { link: name },
    );
  };
  const refuseClosed = (): void => {
    if (closing !== undefined)
      throw new EddyError(ErrorCode.SHUTTING_DOWN, "the mirror is shutting down: retry after the restart");
  };

  return {
    status: () => [...running.values()].map((r) => ({ ...r.link.status(), source: r.source })),
    discover: async () => {
      await Promise.all([...running.values()].map((r) => r.link.discover()));
    },
    addLink: (name, input) =>
      serial(async () => {
        refuseClosed();
        refuseConfigLink(name, "change");
        const config = parseApiLink(name, input);
        const created = !store.has(name);
        await store.put(name, withName(name, input));
        const old = running.get(name);
        if (old !== undefined) {
          running.delete(name);
          await old.link.close();
        }
        if (!config.enabled) {
          logger.info(created ? "mirror link added (disabled)" : "mirror link replaced (disabled)", {
            link: name,
          });
          return { created, status: undefined };
        }
        const link = await startLink(config, "api");
        logger.info(
          created ? "mirror link added over the HTTP API" : "mirror link replaced over the HTTP API",
          {
            link: name,
          },
        );
        return { created, status: { ...link.status(), source: "api" as const } };
      }),
    removeLink: (name) =>
      serial(async () => {
        refuseClosed();
        refuseConfigLink(name, "remove");
        if (!store.has(name)) {
          throw new EddyError(
            ErrorCode.NOT_FOUND,
            `no mirror link '${name}' was added over the HTTP API: list them with GET /v1/mirror/links`,
            {
              link: name,
            },
          );
        }
        const old = running.get(name);
        if (old !== undefined) {
          running.delete(name);
          await old.link.close();
        }
        await store.remove(name);
        logger.info("mirror link removed over the HTTP API", { link: name });
      }),
    close() {
      closing ??= queue
        .then(() => Promise.allSettled([...running.values()].map((r) => r.link.close())))
        .then(() => {
          logger.info("mirror stopped");
        });
      return closing;
    },
  };
}

/** Validate an API link: `name` comes from the path (a different one in the body is an error). */
export function parseApiLink(name: string, input: unknown): MirrorLinkConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      "a mirror link must be a JSON object like a [[mirror.links]] table",
      {
        path: "",
      },
    );
  }
  const body = input as Record<string, unknown>;
  if (body.name !== undefined && body.name !== name) {
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      `invalid mirror link at name: the body says '${String(body.name)}' but the path says '${name}'; omit name or make them match`,
      { path: "name" },
    );
  }
  const result = mirrorLinkSchema.safeParse(withName(name, body));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = (issue?.path ?? []).map(String).join(".");
  throw new EddyError(
    ErrorCode.INVALID_CONFIG,
    `invalid mirror link at ${path || "(root)"}: ${issue?.message ?? "invalid"}`,
    {
      path,
    },
  );
}

function withName(name: string, input: unknown): Record<string, unknown> {
  return { ...(input as Record<string, unknown>), name };
}
