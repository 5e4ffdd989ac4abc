DROP INDEX `messages_room_id_id`;--> statement-breakpoint
ALTER TABLE `messages` ADD `seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `messages` SET `seq` = `t`.`seq` FROM (SELECT `id`, row_number() OVER (PARTITION BY `room_id` ORDER BY `id`) AS `seq` FROM `messages`) AS `t` WHERE `t`.`id` = `messages`.`id`;--> statement-breakpoint
CREATE INDEX `messages_room_id_id_seq` ON `messages` (`room_id`,`id`,`seq`);--> statement-breakpoint
ALTER TABLE `rooms` ADD `last_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `rooms` SET `last_seq` = (SELECT count(*) FROM `messages` WHERE `messages`.`room_id` = `rooms`.`id`);
