CREATE TABLE `blocks` (
	`user_id` text NOT NULL,
	`blocked_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `blocked_id`)
);
--> statement-breakpoint
CREATE TABLE `members` (
	`room_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`last_read_id` integer DEFAULT 0 NOT NULL,
	`joined_at` integer NOT NULL,
	PRIMARY KEY(`room_id`, `user_id`),
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `members_user_id_room_id` ON `members` (`user_id`,`room_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`user_id` text PRIMARY KEY NOT NULL,
	`nickname` text NOT NULL,
	`email` text NOT NULL,
	`profile_url` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `rooms_post_id_unique`;--> statement-breakpoint
ALTER TABLE `rooms` ADD `kind` text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `owner_id` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `direct_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `rooms_open_post_id_unique` ON `rooms` (`post_id`) WHERE "rooms"."post_id" IS NOT NULL AND "rooms"."kind" = 'open';--> statement-breakpoint
CREATE UNIQUE INDEX `rooms_direct_key_unique` ON `rooms` (`direct_key`) WHERE "rooms"."direct_key" IS NOT NULL;