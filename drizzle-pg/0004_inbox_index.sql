CREATE INDEX "messages_room_id_id_created_at" ON "messages" USING btree ("room_id","id","created_at");--> statement-breakpoint
DROP INDEX "messages_room_id_id";