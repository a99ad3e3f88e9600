// GENERATED FILE — do not edit. Produced by scripts/gen-migrations.ts from
// src/metadata/migrations (drizzle-kit output); regenerate with `bun run db:generate`.
import type { EmbeddedMigration } from "../migrator.ts";

export const MIGRATIONS: readonly EmbeddedMigration[] = [
  {
    idx: 0,
    tag: "0000_initial",
    hash: "64ed6067b5bcfa965c950830e3e4048c8fcdfc14fdb5b7ae61f3bc48310cba6b",
    statements: [
      "CREATE TABLE `group_offsets` (\n\t`group` text NOT NULL,\n\t`topic` text NOT NULL,\n\t`partition` integer NOT NULL,\n\t`offset` integer NOT NULL,\n\t`leader_epoch` integer DEFAULT -1 NOT NULL,\n\t`metadata` text DEFAULT '' NOT NULL,\n\t`commit_timestamp` integer NOT NULL,\n\tPRIMARY KEY(`group`, `topic`, `partition`)\n);",
      "CREATE INDEX `group_offsets_topic_idx` ON `group_offsets` (`topic`);",
      "CREATE TABLE `partitions` (\n\t`topic` text NOT NULL,\n\t`partition` integer NOT NULL,\n\t`leader_epoch` integer DEFAULT 0 NOT NULL,\n\tPRIMARY KEY(`topic`, `partition`),\n\tFOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade\n);",
      "CREATE TABLE `settings` (\n\t`key` text PRIMARY KEY NOT NULL,\n\t`value` text NOT NULL\n);",
      "CREATE TABLE `topic_configs` (\n\t`topic` text NOT NULL,\n\t`key` text NOT NULL,\n\t`value` text NOT NULL,\n\tPRIMARY KEY(`topic`, `key`),\n\tFOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade\n);",
      "CREATE TABLE `topics` (\n\t`name` text PRIMARY KEY NOT NULL,\n\t`id` text NOT NULL,\n\t`partitions` integer NOT NULL,\n\t`replication_factor` integer NOT NULL,\n\t`created_at` integer NOT NULL\n);",
      "CREATE UNIQUE INDEX `topics_id_unique` ON `topics` (`id`);",
    ],
  },
  {
    idx: 1,
    tag: "0001_producer_state_transactions",
    hash: "f914cce65b38111eede0ef422a519f05f54a177cea10274f526217e39ae93139",
    statements: [
      "CREATE TABLE `producer_state` (\n\t`topic` text NOT NULL,\n\t`partition` integer NOT NULL,\n\t`snapshot_offset` integer NOT NULL,\n\t`producers` text NOT NULL,\n\t`aborted` text NOT NULL,\n\t`updated_at` integer NOT NULL,\n\tPRIMARY KEY(`topic`, `partition`),\n\tFOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade\n);",
      "CREATE TABLE `transactions` (\n\t`transactional_id` text PRIMARY KEY NOT NULL,\n\t`producer_id` integer NOT NULL,\n\t`producer_epoch` integer NOT NULL,\n\t`timeout_ms` integer NOT NULL,\n\t`state` text NOT NULL,\n\t`partitions` text NOT NULL,\n\t`groups` text NOT NULL,\n\t`pending_offsets` text NOT NULL,\n\t`started_at` integer NOT NULL,\n\t`updated_at` integer NOT NULL\n);",
    ],
  },
  {
    idx: 2,
    tag: "0002_cluster_replicas",
    hash: "a810218e7b1651fe66accd7978dbf8ff5a4c9169900c148ab3acbe5605b2bd60",
    statements: [
      "CREATE TABLE `cluster_nodes` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`witness` integer DEFAULT 0 NOT NULL,\n\t`registered_at` integer NOT NULL\n);",
      "CREATE TABLE `leader_epochs` (\n\t`topic` text NOT NULL,\n\t`partition` integer NOT NULL,\n\t`epoch` integer NOT NULL,\n\t`start_offset` integer NOT NULL,\n\tPRIMARY KEY(`topic`, `partition`, `epoch`),\n\tFOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade\n);",
      "ALTER TABLE `partitions` ADD `leader` integer DEFAULT -1 NOT NULL;",
      "ALTER TABLE `partitions` ADD `replicas` text DEFAULT '[]' NOT NULL;",
      "ALTER TABLE `partitions` ADD `isr` text DEFAULT '[]' NOT NULL;",
      "ALTER TABLE `partitions` ADD `high_watermark` integer DEFAULT -1 NOT NULL;",
    ],
  },
];
