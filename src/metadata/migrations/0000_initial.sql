CREATE TABLE `group_offsets` (
	`group` text NOT NULL,
	`topic` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`leader_epoch` integer DEFAULT -1 NOT NULL,
	`metadata` text DEFAULT '' NOT NULL,
	`commit_timestamp` integer NOT NULL,
	PRIMARY KEY(`group`, `topic`, `partition`)
);
--> statement-breakpoint
CREATE INDEX `group_offsets_topic_idx` ON `group_offsets` (`topic`);--> statement-breakpoint
CREATE TABLE `partitions` (
	`topic` text NOT NULL,
	`partition` integer NOT NULL,
	`leader_epoch` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`topic`, `partition`),
	FOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `topic_configs` (
	`topic` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`topic`, `key`),
	FOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `topics` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`partitions` integer NOT NULL,
	`replication_factor` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `topics_id_unique` ON `topics` (`id`);