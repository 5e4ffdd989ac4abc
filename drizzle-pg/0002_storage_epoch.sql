CREATE TABLE "meta" (
	"id" integer PRIMARY KEY NOT NULL,
	"epoch" text NOT NULL,
	CONSTRAINT "meta_one_row" CHECK ("meta"."id" = 1)
);
--> statement-breakpoint
-- The storage epoch: drawn here, once, when this database is created or first upgraded.
INSERT INTO "meta" ("id", "epoch") VALUES (1, gen_random_uuid()::text);
