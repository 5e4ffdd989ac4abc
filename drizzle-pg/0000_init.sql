CREATE TABLE "messages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"room_id" integer NOT NULL,
	"seq" bigint NOT NULL,
	"user_id" text NOT NULL,
	"email" text NOT NULL,
	"nickname" text NOT NULL,
	"profile_url" text,
	"body" text NOT NULL,
	"client_msg_id" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rooms" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"post_id" integer,
	"created_at" bigint NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_room_id_seq" ON "messages" USING btree ("room_id","seq");--> statement-breakpoint
CREATE INDEX "messages_room_id_id" ON "messages" USING btree ("room_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_client_msg_id_unique" ON "messages" USING btree ("room_id","user_id","client_msg_id") WHERE "messages"."client_msg_id" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_post_id_unique" ON "rooms" USING btree ("post_id") WHERE "rooms"."post_id" IS NOT NULL;