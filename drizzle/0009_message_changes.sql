CREATE TABLE `message_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` integer NOT NULL,
	`body` text NOT NULL,
	`at` integer NOT NULL,
	`action` text NOT NULL,
	`by` text
);
--> statement-breakpoint
CREATE INDEX `message_history_message_id` ON `message_history` (`message_id`,`id`);--> statement-breakpoint
CREATE INDEX `message_history_at` ON `message_history` (`at`);--> statement-breakpoint
CREATE TABLE `reactions` (
	`message_id` integer NOT NULL,
	`emoji` text NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`message_id`, `emoji`, `user_id`),
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `messages` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `created_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `edited_at` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `deleted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_to_id` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `reactions` text;--> statement-breakpoint
CREATE INDEX `messages_room_id_version` ON `messages` (`room_id`,`version`);--> statement-breakpoint
CREATE INDEX `messages_room_id_id_deleted` ON `messages` (`room_id`,`id`) WHERE "messages"."deleted" = 1;--> statement-breakpoint
ALTER TABLE `rooms` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Every stored message was a change of its room: its version is its position, the room's is its count.
UPDATE `messages` SET `version` = `seq`, `created_version` = `seq`;--> statement-breakpoint
UPDATE `rooms` SET `version` = `last_seq`;