CREATE INDEX "messages_room_id_id_seq" ON "messages" USING btree ("room_id","id","seq");--> statement-breakpoint
DROP INDEX "messages_room_id_id_created_at";
