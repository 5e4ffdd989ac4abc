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
	`claimed_by` text,
	`claimed_until` integer,
	`last_error` text,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `webhook_events_pending_key_id` ON `webhook_events` (`key`,`id`) WHERE "webhook_events"."status" = 'pending';--> statement-breakpoint
CREATE INDEX `webhook_events_pending_id` ON `webhook_events` (`id`) WHERE "webhook_events"."status" = 'pending';