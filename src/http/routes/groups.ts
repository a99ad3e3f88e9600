/**
 * Consumer-group offsets: list groups, describe (committed offsets and lag),
 * commit, reset (like kafka-consumer-groups.sh --reset-offsets) and delete.
 * Cluster mode: any node serves them (BrokerApi carries each call to the
 * group's coordinator; the list asks every coordinator).
 */
import { z } from "zod";
import type { BrokerApi } from "../../broker/index.ts";
import { EddyError, ErrorCode } from "../../errors.ts";
import type { HttpDeps } from "../deps.ts";
import type { ApiRouter } from "../openapi.ts";
import { groupParams } from "../schemas.ts";

const commitBody = z.strictObject({
  offsets: z
    .array(
      z.strictObject({
        topic: z.string().min(1),
        partition: z.number().int().min(0),
        offset: z.number().int().min(0),
        metadata: z.string().optional(),
      }),
    )
    .min(1, { error: "give at least one offset" }),
});

const resetTarget = z.union(
  [
    z.enum(["earliest", "latest"]),
    z.strictObject({ offset: z.number().int().min(0) }),
    z.strictObject({ timestamp: z.number().int().min(0) }),
    z.strictObject({ shiftBy: z.number().int() }),
  ],
  { error: 'to must be "earliest", "latest", {offset}, {timestamp} or {shiftBy}' },
);

const resetBody = z.strictObject({
  topic: z.string().min(1),
  partitions: z.array(z.number().int().min(0)).min(1).optional().describe("Default: every partition"),
  to: resetTarget,
  dryRun: z.boolean().default(false).describe("Compute the new offsets; commit nothing"),
});

const groupPartition = z.object({
  topic: z.string(),
  partition: z.number().int(),
  committedOffset: z.number().int(),
  metadata: z.string(),
  commitTimestamp: z.number().int(),
  logEndOffset: z.number().int(),
  highWatermark: z.number().int(),
  lag: z.number().int(),
});

export function registerGroupRoutes(router: ApiRouter, deps: HttpDeps): void {
  const { broker } = deps;

  router.add(
    {
      method: "get",
      path: "/v1/groups",
      tag: "groups",
      summary: "List consumer groups that have committed offsets",
      responses: { 200: { description: "Group ids", schema: z.object({ groups: z.array(z.string()) }) } },
    },
    async (c) => c.json({ groups: await broker.listGroups() }),
  );

  router.add(
    {
      method: "get",
      path: "/v1/groups/{group}",
      tag: "groups",
      summary: "Committed offsets and lag per partition",
      params: groupParams,
      responses: {
        200: {
          description: "The group",
          schema: z.object({
            group: z.string(),
            totalLag: z.number().int(),
            partitions: z.array(groupPartition),
          }),
        },
      },
    },
    async (c, { params }) => {
      const [offsets, lag] = await Promise.all([
        broker.fetchOffsets(params.group),
        broker.groupLag(params.group),
      ]);
      if (offsets.length === 0) throw groupNotFound(params.group);
      const lagOf = new Map(lag.map((l) => [`${l.topic}\0${l.partition}`, l]));
      const partitions = offsets
        .map((o) => {
          const l = lagOf.get(`${o.topic}\0${o.partition}`);
          return {
            topic: o.topic,
            partition: o.partition,
            committedOffset: o.offset,
            metadata: o.metadata,
            commitTimestamp: o.commitTimestamp,
            logEndOffset: l?.logEndOffset ?? -1,
            highWatermark: l?.highWatermark ?? -1,
            lag: l?.lag ?? 0,
          };
        })
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const totalLag = partitions.reduce((sum, p) => sum + p.lag, 0);
      return c.json({ group: params.group, totalLag, partitions });
    },
  );

  router.add(
    {
      method: "post",
      path: "/v1/groups/{group}/offsets",
      tag: "groups",
      summary: "Commit offsets for a group",
      params: groupParams,
      body: commitBody,
      responses: {
        200: {
          description: "Committed",
          schema: z.object({ group: z.string(), committed: z.number().int() }),
        },
      },
    },
    async (c, { params, body }) => {
      await broker.commitOffsets(params.group, body.offsets);
      return c.json({ group: params.group, committed: body.offsets.length });
    },
  );

  router.add(
    {
      method: "post",
      path: "/v1/groups/{group}/reset-offsets",
      tag: "groups",
      summary: "Reset a group's offsets on a topic (earliest, latest, offset, timestamp, shift)",
      params: groupParams,
      body: resetBody,
      responses: {
        200: {
          description: "Old and new offsets per partition",
          schema: z.object({
            group: z.string(),
            topic: z.string(),
            dryRun: z.boolean(),
            partitions: z.array(
              z.object({
                partition: z.number().int(),
                previousOffset: z.number().int().nullable(),
                newOffset: z.number().int(),
              }),
            ),
          }),
        },
      },
    },
    async (c, { params, body }) => {
      const plan = await planReset(broker, params.group, body);
      if (!body.dryRun) {
        await broker.commitOffsets(
          params.group,
          plan.map((p) => ({ topic: body.topic, partition: p.partition, offset: p.newOffset })),
        );
      }
      return c.json({ group: params.group, topic: body.topic, dryRun: body.dryRun, partitions: plan });
    },
  );

  router.add(
    {
      method: "delete",
      path: "/v1/groups/{group}",
      tag: "groups",
      summary: "Delete a group's committed offsets",
      params: groupParams,
      responses: { 204: { description: "Deleted" } },
    },
    async (c, { params }) => {
      await broker.deleteGroup(params.group);
      return c.body(null, 204);
    },
  );
}

function groupNotFound(group: string): EddyError {
  return new EddyError(
    ErrorCode.GROUP_NOT_FOUND,
    `group '${group}' has no committed offsets: check the name`,
    {
      group,
    },
  );
}

async function planReset(broker: BrokerApi, group: string, body: z.output<typeof resetBody>) {
  const topic = await broker.describeTopic(body.topic);
  const known = new Set(topic.partitions.map((p) => p.partition));
  const partitions = body.partitions ?? [...known].sort((a, b) => a - b);
  for (const p of partitions) {
    if (!known.has(p)) {
      throw new EddyError(
        ErrorCode.PARTITION_NOT_FOUND,
        `topic '${body.topic}' has no partition ${p}: it has ${known.size}`,
        { topic: body.topic, partition: p },
      );
    }
  }
  const committed = new Map(
    (await broker.fetchOffsets(group, body.topic)).map((o) => [o.partition, o.offset]),
  );
  const to = body.to;
  return Promise.all(
    partitions.map(async (partition) => {
      const earliest = (await broker.listOffsets(body.topic, partition, "earliest")).offset;
      const latest = (await broker.listOffsets(body.topic, partition, "latest")).offset;
      const previous = committed.get(partition) ?? null;
      let target: number;
      if (to === "earliest") target = earliest;
      else if (to === "latest") target = latest;
      else if ("offset" in to) target = to.offset;
      else if ("timestamp" in to) {
        const r = await broker.listOffsets(body.topic, partition, { timestamp: to.timestamp });
        target = r.offset < 0 ? latest : r.offset;
      } else {
        if (previous === null) {
          throw new EddyError(
            ErrorCode.INVALID_REQUEST,
            `group '${group}' has no committed offset for ${body.topic}/${partition} to shift: reset to an offset first`,
            { topic: body.topic, partition },
          );
        }
        target = previous + to.shiftBy;
      }
      // As kafka-consumer-groups.sh does: clamp into the readable range.
      const newOffset = Math.min(Math.max(target, earliest), latest);
      return { partition, previousOffset: previous, newOffset };
    }),
  );
}
