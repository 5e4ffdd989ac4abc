CREATE TABLE "uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"content_type" text NOT NULL,
	"size" bigint NOT NULL,
	"name" text NOT NULL,
	"width" bigint,
	"height" bigint,
	"thumbnail_type" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"claim" text,
	"message_id" bigint,
	"room_id" bigint,
	"delete_at" bigint,
	"files_deleted" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "attachments" text;--> statement-breakpoint
CREATE INDEX "uploads_user_id_created_at" ON "uploads" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "uploads_unattached_expires_at" ON "uploads" USING btree ("expires_at") WHERE "uploads"."message_id" IS NULL AND "uploads"."delete_at" IS NULL;--> statement-breakpoint
CREATE INDEX "uploads_due_delete_at" ON "uploads" USING btree ("delete_at") WHERE "uploads"."delete_at" IS NOT NULL AND "uploads"."files_deleted" = 0;--> statement-breakpoint
CREATE INDEX "uploads_message_id" ON "uploads" USING btree ("message_id") WHERE "uploads"."message_id" IS NOT NULL;