CREATE INDEX "blocks_blocked_id_user_id" ON "blocks" USING btree ("blocked_id","user_id");--> statement-breakpoint
-- Participants belong to open rooms only. Rows of that role in private and direct rooms were left by
-- writes that raced a removal (or by the app's backend sending as a non-member): they gave no one a
-- right to the room, and nothing may count them as one.
DELETE FROM "members" WHERE "role" = 'participant' AND "room_id" IN (SELECT "id" FROM "rooms" WHERE "kind" <> 'open');
