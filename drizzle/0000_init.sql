CREATE TABLE `messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`room_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`email` text NOT NULL,
	`nickname` text NOT NULL,
	`profile_url` text,
	`body` text NOT NULL,
	`client_msg_id` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`room_id`) REFERENCES `rooms`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `messages_room_id_id` ON `messages` (`room_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `messages_client_msg_id_unique` ON `messages` (`room_id`,`user_id`,`client_msg_id`) WHERE "messages"."client_msg_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `rooms` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`post_id` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rooms_post_id_unique` ON `rooms` (`post_id`) WHERE "rooms"."post_id" IS NOT NULL;