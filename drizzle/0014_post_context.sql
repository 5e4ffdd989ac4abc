DROP INDEX `messages_room_id_id_deleted`;--> statement-breakpoint
ALTER TABLE `messages` ADD `system` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `silent` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `data` text;--> statement-breakpoint
CREATE INDEX `messages_room_id_id_uncounted` ON `messages` (`room_id`,`id`) WHERE ("messages"."deleted" = 1 or "messages"."silent" = 1);--> statement-breakpoint
ALTER TABLE `members` ADD `hidden_through` integer;--> statement-breakpoint
ALTER TABLE `members` ADD `left_at` integer;--> statement-breakpoint
ALTER TABLE `room_events` ADD `data` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `data` text;--> statement-breakpoint
ALTER TABLE `rooms` ADD `status` text DEFAULT 'active' NOT NULL;