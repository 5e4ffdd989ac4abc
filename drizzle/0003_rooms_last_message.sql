ALTER TABLE `rooms` ADD `last_message_id` integer;--> statement-breakpoint
ALTER TABLE `rooms` ADD `last_message_at` integer;--> statement-breakpoint
UPDATE "rooms" SET "last_message_id" = (SELECT max("id") FROM "messages" WHERE "messages"."room_id" = "rooms"."id");--> statement-breakpoint
UPDATE "rooms" SET "last_message_at" = (SELECT "created_at" FROM "messages" WHERE "messages"."id" = "rooms"."last_message_id") WHERE "last_message_id" IS NOT NULL;
