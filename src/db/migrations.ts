import type { MigrationMeta } from 'drizzle-orm/migrator'
import journal from '../../drizzle/meta/_journal.json'
// Imported as text so `bun build --compile` carries them inside the binary.
// drizzle-kit writes new files here; list each one (a test checks this list against the journal).
import init from '../../drizzle/0000_init.sql' with { type: 'text' }
import storageEpoch from '../../drizzle/0001_storage_epoch.sql' with { type: 'text' }
import roomKinds from '../../drizzle/0002_rooms_kinds_members.sql' with { type: 'text' }
import roomsLastMessage from '../../drizzle/0003_rooms_last_message.sql' with { type: 'text' }
import messagePositions from '../../drizzle/0004_message_positions.sql' with { type: 'text' }
import webhooksReports from '../../drizzle/0005_webhooks_reports.sql' with { type: 'text' }
import webhookCursors from '../../drizzle/0006_webhook_cursors.sql' with { type: 'text' }
import membersRule from '../../drizzle/0007_members_rule.sql' with { type: 'text' }
import schemaVersion from '../../drizzle/0008_schema_version_instances.sql' with { type: 'text' }
import messageChanges from '../../drizzle/0009_message_changes.sql' with { type: 'text' }
import roomEvents from '../../drizzle/0010_room_events.sql' with { type: 'text' }
import changedMessagesIndex from '../../drizzle/0011_changed_messages_index.sql' with { type: 'text' }
import uploads from '../../drizzle/0012_uploads.sql' with { type: 'text' }
import roomsPostId from '../../drizzle/0013_rooms_post_id.sql' with { type: 'text' }
import postContext from '../../drizzle/0014_post_context.sql' with { type: 'text' }
import moderation from '../../drizzle/0015_moderation.sql' with { type: 'text' }
import pgJournal from '../../drizzle-pg/meta/_journal.json'
import pgInit from '../../drizzle-pg/0000_init.sql' with { type: 'text' }
import pgBigintIds from '../../drizzle-pg/0001_bigint_ids.sql' with { type: 'text' }
import pgStorageEpoch from '../../drizzle-pg/0002_storage_epoch.sql' with { type: 'text' }
import pgRoomKinds from '../../drizzle-pg/0003_rooms_kinds_members.sql' with { type: 'text' }
import pgInboxIndex from '../../drizzle-pg/0004_inbox_index.sql' with { type: 'text' }
import pgRoomsLastMessage from '../../drizzle-pg/0005_rooms_last_message.sql' with { type: 'text' }
import pgUnreadIndex from '../../drizzle-pg/0006_unread_index.sql' with { type: 'text' }
import pgWebhooksReports from '../../drizzle-pg/0007_webhooks_reports.sql' with { type: 'text' }
import pgWebhookCursors from '../../drizzle-pg/0008_webhook_cursors.sql' with { type: 'text' }
import pgMembersRule from '../../drizzle-pg/0009_members_rule.sql' with { type: 'text' }
import pgSchemaVersion from '../../drizzle-pg/0010_schema_version_instances.sql' with { type: 'text' }
import pgMessageChanges from '../../drizzle-pg/0011_message_changes.sql' with { type: 'text' }
import pgRoomEvents from '../../drizzle-pg/0012_room_events.sql' with { type: 'text' }
import pgChangedMessagesIndex from '../../drizzle-pg/0013_changed_messages_index.sql' with { type: 'text' }
import pgUploads from '../../drizzle-pg/0014_uploads.sql' with { type: 'text' }
import pgRoomsPostId from '../../drizzle-pg/0015_rooms_post_id.sql' with { type: 'text' }
import pgPostContext from '../../drizzle-pg/0016_post_context.sql' with { type: 'text' }
import pgModeration from '../../drizzle-pg/0017_moderation.sql' with { type: 'text' }

/** SQL of every migration drizzle-kit generated, by journal tag. */
export const migrationSql: Record<string, string> = {
  '0000_init': init,
  '0001_storage_epoch': storageEpoch,
  '0002_rooms_kinds_members': roomKinds,
  '0003_rooms_last_message': roomsLastMessage,
  '0004_message_positions': messagePositions,
  '0005_webhooks_reports': webhooksReports,
  '0006_webhook_cursors': webhookCursors,
  '0007_members_rule': membersRule,
  '0008_schema_version_instances': schemaVersion,
  '0009_message_changes': messageChanges,
  '0010_room_events': roomEvents,
  '0011_changed_messages_index': changedMessagesIndex,
  '0012_uploads': uploads,
  '0013_rooms_post_id': roomsPostId,
  '0014_post_context': postContext,
  '0015_moderation': moderation,
}

/** SQL of every Postgres migration (drizzle-pg/), by journal tag. */
export const pgMigrationSql: Record<string, string> = {
  '0000_init': pgInit,
  '0001_bigint_ids': pgBigintIds,
  '0002_storage_epoch': pgStorageEpoch,
  '0003_rooms_kinds_members': pgRoomKinds,
  '0004_inbox_index': pgInboxIndex,
  '0005_rooms_last_message': pgRoomsLastMessage,
  '0006_unread_index': pgUnreadIndex,
  '0007_webhooks_reports': pgWebhooksReports,
  '0008_webhook_cursors': pgWebhookCursors,
  '0009_members_rule': pgMembersRule,
  '0010_schema_version_instances': pgSchemaVersion,
  '0011_message_changes': pgMessageChanges,
  '0012_room_events': pgRoomEvents,
  '0013_changed_messages_index': pgChangedMessagesIndex,
  '0014_uploads': pgUploads,
  '0015_rooms_post_id': pgRoomsPostId,
  '0016_post_context': pgPostContext,
  '0017_moderation': pgModeration,
}

type Journal = { entries: { tag: string; when: number; breakpoints: boolean }[] }

function toMigrations(journal: Journal, files: Record<string, string>): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const sql = files[entry.tag]
    if (sql === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded in src/db/migrations.ts`)
    return {
      sql: sql.split('--> statement-breakpoint'),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher('sha256').update(sql).digest('hex'),
    }
  })
}

/** The SQLite migrations in journal order, in the form drizzle's `migrate` expects. */
export const sqliteMigrations = () => toMigrations(journal, migrationSql)

/** The Postgres migrations in journal order. */
export const pgMigrations = () => toMigrations(pgJournal, pgMigrationSql)

export { journal as sqliteJournal, pgJournal }
