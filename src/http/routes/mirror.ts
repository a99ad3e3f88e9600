/**
 * Mirror status: every link to a central Kafka cluster with its state, lag and
 * errors, per partition. Always served: with no links configured the list is
 * empty. PUT/DELETE /v1/mirror/links/{name} manage links at runtime. The data
 * comes from a `MirrorAdmin` provider (src/main.ts adapts the mirror bridge).
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../../errors.ts";
import type { ApiRouter } from "../openapi.ts";

const state = z
  .enum(["connecting", "forwarding", "idle", "down"])
  .describe(
    "connecting: no answer yet; forwarding: moving records; idle: caught up; down: failing (see lastError)",
  );
const mirrorError = z
  .object({ message: z.string(), at: z.number().describe("ms since the epoch") })
  .nullable();

export const mirrorPartitionSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  remoteTopic: z.string(),
  remotePartition: z.number().int().nullable().describe("null with partition_mapping by-key"),
  priority: z.number().int(),
  state,
  mirroredOffset: z.number().int().describe("Every record below it was acknowledged by the central cluster"),
  highWatermark: z.number().int(),
  lagRecords: z.number().int(),
  lagBytes: z.number().int().describe("Estimate"),
  lagAgeMs: z.number().describe("Age of the oldest owed record"),
  sentRecords: z.number().int(),
  sentBytes: z.number().int(),
  skippedRecords: z.number().int().describe("Deleted by size retention before delivery"),
  skipped: z.array(z.object({ from: z.number().int(), to: z.number().int(), at: z.number() })),
  lastError: mirrorError,
  lastSentAt: z.number().nullable(),
  failedAttempts: z
    .number()
    .int()
    .describe(
      "Failed attempts in a row since the last acknowledged send (a partition central keeps rejecting retries alone)",
    ),
});

export const mirrorLinkSchema = z.object({
  name: z.string(),
  bootstrapServers: z.array(z.string()),
  state,
  partitions: z.array(mirrorPartitionSchema),
  lagRecords: z.number().int(),
  skippedRecords: z.number().int(),
  lastError: mirrorError,
  source: z.enum(["config", "api"]).optional().describe("config: eddy.toml; api: added over this API"),
});

export type MirrorLinkView = z.output<typeof mirrorLinkSchema>;

/** What the mirror endpoint reads; src/main.ts implements it over the mirror bridge. */
export interface MirrorAdmin {
  links(): MirrorLinkView[];
  /**
   * Create or replace an API-managed link from its JSON; throws EddyError
   * (INVALID_CONFIG naming the key path, INVALID_REQUEST for a config link).
   * Absent: links cannot be changed over the API.
   */
  putLink?(name: string, body: unknown): Promise<{ created: boolean; link: MirrorLinkView | null }>;
  /** Stop and forget an API-managed link (NOT_FOUND if there is none). */
  deleteLink?(name: string): Promise<void>;
}

const linkParams = z.object({ name: z.string().describe("Link name: 1-64 of [A-Za-z0-9._-]") });

const linkBody = z
  .record(z.string(), z.unknown())
  .describe(
    "A [[mirror.links]] table as JSON with its snake_case keys (bootstrap_servers, topics, tls, sasl, ...); name may be omitted",
  );

const putResponse = z.object({
  created: z.boolean(),
  link: mirrorLinkSchema.nullable().describe("null for enabled = false (stored, not running)"),
});

function unsupported(): EddyError {
  return new EddyError(
    ErrorCode.NOT_FOUND,
    "mirror links cannot be changed on this server: configure them in eddy.toml [[mirror.links]]",
  );
}

export function registerMirrorRoutes(router: ApiRouter, mirror: MirrorAdmin | undefined): void {
  router.add(
    {
      method: "get",
      path: "/v1/mirror/links",
      tag: "mirror",
      summary: "Mirror links to central Kafka clusters: state, lag and errors per link and partition",
      responses: { 200: { description: "Links", schema: z.object({ links: z.array(mirrorLinkSchema) }) } },
    },
    (c) => c.json({ links: mirror?.links() ?? [] }),
  );

  router.add(
    {
      method: "put",
      path: "/v1/mirror/links/{name}",
      tag: "mirror",
      summary:
        "Create or replace a mirror link (kept across restarts; a link of the same name in eddy.toml wins)",
      params: linkParams,
      body: linkBody,
      responses: {
        201: { description: "Created and started", schema: putResponse },
        200: { description: "Replaced: the old link stopped, the new one started", schema: putResponse },
      },
    },
    async (c, { params, body }) => {
      if (!mirror?.putLink) throw unsupported();
      const result = await mirror.putLink(params.name, body);
      return c.json(result, result.created ? 201 : 200);
    },
  );

  router.add(
    {
      method: "delete",
      path: "/v1/mirror/links/{name}",
      tag: "mirror",
      summary: "Stop and remove a mirror link added over the API (releases the retention it held)",
      params: linkParams,
      responses: { 204: { description: "Removed" } },
    },
    async (c, { params }) => {
      if (!mirror?.deleteLink) throw unsupported();
      await mirror.deleteLink(params.name);
      return c.body(null, 204);
    },
  );
}
