CREATE TABLE "reports" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"reporter_id" text NOT NULL,
	"message_id" bigint,
	"room_id" bigint,
	"user_id" text,
	"reason" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"data" text NOT NULL,
	"created_at" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"lane" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"finished_at" bigint
);
--> statement-breakpoint
CREATE TABLE "webhook_lanes" (
	"lane" integer PRIMARY KEY NOT NULL,
	"owner" text,
	"until" bigint
);
--> statement-breakpoint
CREATE INDEX "webhook_events_pending_lane_id" ON "webhook_events" USING btree ("lane","id") WHERE "webhook_events"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "webhook_events_dead_id" ON "webhook_events" USING btree ("id") WHERE "webhook_events"."status" = 'dead';--> statement-breakpoint
INSERT INTO "webhook_lanes" ("lane") SELECT generate_series(0, 63);
