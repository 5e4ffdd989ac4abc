CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`kind` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`name` text NOT NULL,
	`width` integer,
	`height` integer,
	`thumbnail_type` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`claim` text,
	`message_id` integer,
	`room_id` integer,
	`delete_at` integer,
	`files_deleted` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `uploads_user_id_created_at` ON `uploads` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `uploads_unattached_expires_at` ON `uploads` (`expires_at`) WHERE "uploads"."message_id" IS NULL AND "uploads"."delete_at" IS NULL;--> statement-breakpoint
CREATE INDEX `uploads_due_delete_at` ON `uploads` (`delete_at`) WHERE "uploads"."delete_at" IS NOT NULL AND "uploads"."files_deleted" = 0;--> statement-breakpoint
CREATE INDEX `uploads_message_id` ON `uploads` (`message_id`) WHERE "uploads"."message_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `attachments` text;