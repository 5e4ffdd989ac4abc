CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text,
	`action` text NOT NULL,
	`room_id` integer,
	`user_id` text,
	`message_id` integer,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_room_id_id` ON `audit_log` (`room_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_user_id_id` ON `audit_log` (`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `moderators` (
	`user_id` text NOT NULL,
	`room_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `room_id`)
);
--> statement-breakpoint
CREATE TABLE `sanctions` (
	`room_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`until` integer,
	`by` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`, `kind`),
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `word_filters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`pattern` text NOT NULL,
	`regex` integer DEFAULT 0 NOT NULL,
	`action` text NOT NULL,
	`rooms` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `members` ADD `last_sent_at` integer;--> statement-breakpoint
ALTER TABLE `reports` ADD `status` text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE `reports` ADD `closed_at` integer;--> statement-breakpoint
ALTER TABLE `reports` ADD `closed_by` text;--> statement-breakpoint
CREATE INDEX `reports_status_id` ON `reports` (`status`,`id`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `slow_mode_seconds` integer DEFAULT 0 NOT NULL;