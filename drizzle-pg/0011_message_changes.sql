CREATE TABLE "message_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" bigint NOT NULL,
	"body" text NOT NULL,
	"at" bigint NOT NULL,
	"action" text NOT NULL,
	"by" text
);
--> statement-breakpoint
CREATE TABLE "reactions" (
	"message_id" bigint NOT NULL,
	"emoji" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "reactions_message_id_emoji_user_id_pk" PRIMARY KEY("message_id","emoji","user_id")
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "created_version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "edited_at" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "deleted" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_to_id" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reactions" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reactions" ADD CONSTRAINT "reactions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_history_message_id" ON "message_history" USING btree ("message_id","id");--> statement-breakpoint
CREATE INDEX "message_history_at" ON "message_history" USING btree ("at");--> statement-breakpoint
CREATE INDEX "messages_room_id_version" ON "messages" USING btree ("room_id","version");--> statement-breakpoint
CREATE INDEX "messages_room_id_id_deleted" ON "messages" USING btree ("room_id","id") WHERE "messages"."deleted" = 1;--> statement-breakpoint
-- Every stored message was a change of its room: its version is its position, the room's is its count.
UPDATE "messages" SET "version" = "seq", "created_version" = "seq";--> statement-breakpoint
UPDATE "rooms" SET "version" = "last_seq";