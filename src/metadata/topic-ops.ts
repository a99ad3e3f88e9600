/**
 * Topics, their config overrides and their partition rows. Each mutation is
 * one transaction; deleting a topic cascades to its configs and partitions
 * (committed group offsets are dropped separately: deleteOffsetsForTopic).
 */
import type { Database } from "bun:sqlite";
import { asc, eq, sql } from "drizzle-orm";
import { EddyError, ErrorCode } from "../errors.ts";
import type { Db } from "./db.ts";
import { partitions, topicConfigs, topics } from "./schema.ts";
import type { TopicRecord } from "./types.ts";

export interface TopicOps {
  list(): TopicRecord[];
  get(name: string): TopicRecord | null;
  create(topic: TopicRecord): void;
  delete(name: string): void;
  setConfigs(name: string, configs: Record<string, string>): void;
  setPartitionCount(name: string, count: number): void;
}

type TopicRow = typeof topics.$inferSelect;

export function createTopicOps(client: Database, db: Db): TopicOps {
  const byName = { name: sql.placeholder("name") };
  const selectTopic = db.select().from(topics).where(eq(topics.name, byName.name)).prepare();
  const selectConfigs = db
    .select({ key: topicConfigs.key, value: topicConfigs.value })
    .from(topicConfigs)
    .where(eq(topicConfigs.topic, byName.name))
    .orderBy(asc(topicConfigs.key))
    .prepare();
  const insertConfig = db
    .insert(topicConfigs)
    .values({ topic: sql.placeholder("topic"), key: sql.placeholder("key"), value: sql.placeholder("value") })
    .prepare();
  const deleteConfigs = db.delete(topicConfigs).where(eq(topicConfigs.topic, byName.name)).prepare();
  const insertPartition = db
    .insert(partitions)
    .values({ topic: sql.placeholder("topic"), partition: sql.placeholder("partition") })
    .prepare();

  const toRecord = (row: TopicRow, configs: Record<string, string>): TopicRecord => ({
    name: row.name,
    id: row.id,
    partitions: row.partitions,
    replicationFactor: row.replicationFactor,
    configs,
    createdAt: row.createdAt,
  });

  const require = (name: string): TopicRow => {
    const row = selectTopic.get({ name });
    if (row === undefined) {
      throw new EddyError(
        ErrorCode.TOPIC_NOT_FOUND,
        `topic "${name}" does not exist: list topics to check the name`,
        {
          topic: name,
        },
      );
    }
    return row;
  };

  const writeConfigs = (topic: string, configs: Record<string, string>): void => {
    for (const [key, value] of Object.entries(configs)) insertConfig.run({ topic, key, value });
  };

  const addPartitions = (topic: string, from: number, to: number): void => {
    for (let partition = from; partition < to; partition++) insertPartition.run({ topic, partition });
  };

  const create = client.transaction((topic: TopicRecord): void => {
    checkPartitionCount(topic.name, topic.partitions);
    if (selectTopic.get({ name: topic.name }) !== undefined) {
      throw new EddyError(ErrorCode.TOPIC_EXISTS, `topic "${topic.name}" already exists`, {
        topic: topic.name,
      });
    }
    db.insert(topics)
      .values({
        name: topic.name,
        id: topic.id,
        partitions: topic.partitions,
        replicationFactor: topic.replicationFactor,
        createdAt: topic.createdAt,
      })
      .run();
    writeConfigs(topic.name, topic.configs);
    addPartitions(topic.name, 0, topic.partitions);
  });

  const remove = client.transaction((name: string): void => {
    require(name);
    db.delete(topics).where(eq(topics.name, name)).run();
  });

  const setConfigs = client.transaction((name: string, configs: Record<string, string>): void => {
    require(name);
    deleteConfigs.run({ name });
    writeConfigs(name, configs);
  });

  const setPartitionCount = client.transaction((name: string, count: number): void => {
    checkPartitionCount(name, count);
    const row = require(name);
    if (count < row.partitions) {
      throw new EddyError(
        ErrorCode.INVALID_PARTITIONS,
        `topic "${name}" has ${row.partitions} partitions; the count can only grow (asked for ${count})`,
        { topic: name, current: row.partitions, requested: count },
      );
    }
    if (count === row.partitions) return;
    db.update(topics).set({ partitions: count }).where(eq(topics.name, name)).run();
    addPartitions(name, row.partitions, count);
  });

  return {
    list: () => {
      const rows = db.select().from(topics).orderBy(asc(topics.name)).all();
      const configs = new Map<string, Record<string, string>>();
      for (const c of db.select().from(topicConfigs).orderBy(asc(topicConfigs.key)).all()) {
        const m = configs.get(c.topic) ?? {};
        m[c.key] = c.value;
        configs.set(c.topic, m);
      }
      return rows.map((row) => toRecord(row, configs.get(row.name) ?? {}));
    },
    get: (name) => {
      const row = selectTopic.get({ name });
      if (row === undefined) return null;
      return toRecord(row, Object.fromEntries(selectConfigs.all({ name }).map((c) => [c.key, c.value])));
    },
    create: (topic) => create(topic),
    delete: (name) => remove(name),
    setConfigs: (name, configs) => setConfigs(name, configs),
    setPartitionCount: (name, count) => setPartitionCount(name, count),
  };
}

function checkPartitionCount(topic: string, count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new EddyError(
      ErrorCode.INVALID_PARTITIONS,
      `topic "${topic}": the partition count must be a positive integer (got ${count})`,
      { topic, partitions: count },
    );
  }
}
