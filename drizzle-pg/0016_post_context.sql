DROP INDEX "messages_room_id_id_deleted";--> statement-breakpoint
ALTER TABLE "members" ADD COLUMN "hidden_through" bigint;--> statement-breakpoint
ALTER TABLE "members" ADD COLUMN "left_at" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "system" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "silent" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "data" text;--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "data" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "data" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "status" text DEFAULT 'active' NOT NULL;--> statement-breakpoint
CREATE INDEX "messages_room_id_id_uncounted" ON "messages" USING btree ("room_id","id") WHERE ("messages"."deleted" = 1 or "messages"."silent" = 1);