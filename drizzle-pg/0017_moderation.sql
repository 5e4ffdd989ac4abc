CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"actor" text,
	"action" text NOT NULL,
	"room_id" bigint,
	"user_id" text,
	"message_id" bigint,
	"data" text
);
--> statement-breakpoint
CREATE TABLE "moderators" (
	"user_id" text NOT NULL,
	"room_id" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "moderators_user_id_room_id_pk" PRIMARY KEY("user_id","room_id")
);
--> statement-breakpoint
CREATE TABLE "sanctions" (
	"room_id" bigint NOT NULL,
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"until" bigint,
	"by" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "sanctions_room_id_user_id_kind_pk" PRIMARY KEY("room_id","user_id","kind")
);
--> statement-breakpoint
CREATE TABLE "word_filters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"pattern" text NOT NULL,
	"regex" integer DEFAULT 0 NOT NULL,
	"action" text NOT NULL,
	"rooms" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "members" ADD COLUMN "last_sent_at" bigint;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "status" text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "closed_at" bigint;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "closed_by" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "slow_mode_seconds" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sanctions" ADD CONSTRAINT "sanctions_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_room_id_id" ON "audit_log" USING btree ("room_id","id");--> statement-breakpoint
CREATE INDEX "audit_log_user_id_id" ON "audit_log" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "reports_status_id" ON "reports" USING btree ("status","id");