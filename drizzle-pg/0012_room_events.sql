CREATE TABLE "room_events" (
	"room_id" bigint NOT NULL,
	"version" bigint NOT NULL,
	"kind" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "room_events_room_id_version_pk" PRIMARY KEY("room_id","version")
);
--> statement-breakpoint
ALTER TABLE "room_events" ADD CONSTRAINT "room_events_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE no action ON UPDATE no action;