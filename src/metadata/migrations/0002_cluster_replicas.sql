CREATE TABLE `cluster_nodes` (
	`id` integer PRIMARY KEY NOT NULL,
	`witness` integer DEFAULT 0 NOT NULL,
	`registered_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `leader_epochs` (
	`topic` text NOT NULL,
	`partition` integer NOT NULL,
	`epoch` integer NOT NULL,
	`start_offset` integer NOT NULL,
	PRIMARY KEY(`topic`, `partition`, `epoch`),
	FOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `partitions` ADD `leader` integer DEFAULT -1 NOT NULL;--> statement-breakpoint
ALTER TABLE `partitions` ADD `replicas` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `partitions` ADD `isr` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `partitions` ADD `high_watermark` integer DEFAULT -1 NOT NULL;