/**
 * Mirror status: every link to a central Kafka cluster with its state, lag and
 * errors, per partition. Always served: with no links configured the list is
 * empty. The data comes from a `MirrorAdmin` provider (src/main.ts adapts the
 * mirror bridge).
 */
import { z } from "zod";
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
});

export const mirrorLinkSchema = z.object({
  name: z.string(),
  bootstrapServers: z.array(z.string()),
  state,
  partitions: z.array(mirrorPartitionSchema),
  lagRecords: z.number().int(),
  skippedRecords: z.number().int(),
  lastError: mirrorError,
});

export type MirrorLinkView = z.output<typeof mirrorLinkSchema>;

/** What the mirror endpoint reads; src/main.ts implements it over the mirror bridge. */
export interface MirrorAdmin {
  links(): MirrorLinkView[];
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
}
