CREATE TABLE "blocks" (
	"user_id" text NOT NULL,
	"blocked_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "blocks_user_id_blocked_id_pk" PRIMARY KEY("user_id","blocked_id")
);
--> statement-breakpoint
CREATE TABLE "members" (
	"room_id" bigint NOT NULL,
	"user_id" text NOT NULL,
	"role" text NOT NULL,
	"last_read_id" bigint DEFAULT 0 NOT NULL,
	"joined_at" bigint NOT NULL,
	CONSTRAINT "members_room_id_user_id_pk" PRIMARY KEY("room_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"nickname" text NOT NULL,
	"email" text NOT NULL,
	"profile_url" text,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
DROP INDEX "rooms_post_id_unique";--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "kind" text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "owner_id" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "direct_key" text;--> statement-breakpoint
ALTER TABLE "members" ADD CONSTRAINT "members_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "members_user_id_room_id" ON "members" USING btree ("user_id","room_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_open_post_id_unique" ON "rooms" USING btree ("post_id") WHERE "rooms"."post_id" IS NOT NULL AND "rooms"."kind" = 'open';--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_direct_key_unique" ON "rooms" USING btree ("direct_key") WHERE "rooms"."direct_key" IS NOT NULL;