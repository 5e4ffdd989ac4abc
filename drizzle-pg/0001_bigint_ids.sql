ALTER TABLE "messages" ALTER COLUMN "room_id" SET DATA TYPE bigint;--> statement-breakpoint
-- drizzle-kit writes "SET DATA TYPE bigserial", which Postgres has no such type for: bigserial is
-- bigint plus its sequence, so the column becomes bigint and the serial's sequence (integer until
-- now, ending at 2^31 - 1) becomes a bigint sequence.
ALTER TABLE "rooms" ALTER COLUMN "id" SET DATA TYPE bigint;--> statement-breakpoint
ALTER SEQUENCE "rooms_id_seq" AS bigint;--> statement-breakpoint
ALTER TABLE "rooms" ALTER COLUMN "post_id" SET DATA TYPE bigint;
