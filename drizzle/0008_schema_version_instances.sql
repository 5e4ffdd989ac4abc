CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`pid` integer NOT NULL,
	`version` text NOT NULL,
	`started_at` integer NOT NULL,
	`seen_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `meta` ADD `schema_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `meta` ADD `migrated_by` text;