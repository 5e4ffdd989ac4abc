CREATE TABLE `reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`reporter_id` text NOT NULL,
	`message_id` integer,
	`room_id` integer,
	`user_id` text,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `webhook_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lane` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_events_pending_lane_id` ON `webhook_events` (`lane`,`id`) WHERE "webhook_events"."status" = 'pending';--> statement-breakpoint
CREATE INDEX `webhook_events_dead_id` ON `webhook_events` (`id`) WHERE "webhook_events"."status" = 'dead';--> statement-breakpoint
CREATE TABLE `webhook_lanes` (
	`lane` integer PRIMARY KEY NOT NULL,
	`owner` text,
	`until` integer
);
--> statement-breakpoint
WITH RECURSIVE `n`(`i`) AS (SELECT 0 UNION ALL SELECT `i` + 1 FROM `n` WHERE `i` < 63) INSERT INTO `webhook_lanes` (`lane`) SELECT `i` FROM `n`;
