CREATE TABLE `producer_state` (
	`topic` text NOT NULL,
	`partition` integer NOT NULL,
	`snapshot_offset` integer NOT NULL,
	`producers` text NOT NULL,
	`aborted` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`topic`, `partition`),
	FOREIGN KEY (`topic`) REFERENCES `topics`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `transactions` (
	`transactional_id` text PRIMARY KEY NOT NULL,
	`producer_id` integer NOT NULL,
	`producer_epoch` integer NOT NULL,
	`timeout_ms` integer NOT NULL,
	`state` text NOT NULL,
	`partitions` text NOT NULL,
	`groups` text NOT NULL,
	`pending_offsets` text NOT NULL,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
