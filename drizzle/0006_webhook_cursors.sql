DROP INDEX `webhook_events_pending_lane_id`;--> statement-breakpoint
ALTER TABLE `webhook_events` ADD `position` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `webhook_events_pending_lane_position` ON `webhook_events` (`lane`,`position`,`id`) WHERE "webhook_events"."status" = 'pending';--> statement-breakpoint
ALTER TABLE `meta` ADD `webhooks_on` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `rooms` ADD `webhook_message_id` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- What is stored already is not sent again: each room's webhook cursor starts at its newest message.
UPDATE `rooms` SET `webhook_message_id` = coalesce(`last_message_id`, 0);--> statement-breakpoint
-- A room's events now go through lane `id % 64` (its messages are read by that lane).
UPDATE `webhook_events` SET `lane` = CAST(substr(`key`, 6) AS integer) % 64 WHERE `key` LIKE 'room:%';--> statement-breakpoint
CREATE INDEX `rooms_webhook_behind` ON `rooms` (("id" % 64),`id`) WHERE "rooms"."last_message_id" > "rooms"."webhook_message_id";