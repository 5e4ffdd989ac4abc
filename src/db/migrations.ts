import type { MigrationMeta } from 'drizzle-orm/migrator'
import journal from '../../drizzle/meta/_journal.json'
// Imported as text so `bun build --compile` carries them inside the binary.
// drizzle-kit writes new files here; list each one (a test checks this list against the journal).
import init from '../../drizzle/0000_init.sql' with { type: 'text' }

/** SQL of every migration drizzle-kit generated, by journal tag. */
export const migrationSql: Record<string, string> = {
  '0000_init': init,
}

/** The migrations in journal order, in the form drizzle's `migrate` expects. */
export function sqliteMigrations(): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const sql = migrationSql[entry.tag]
    if (sql === undefined) throw new Error(`migration ${entry.tag} is in the journal but not embedded in src/db/migrations.ts`)
    return {
      sql: sql.split('--> statement-breakpoint'),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: new Bun.CryptoHasher('sha256').update(sql).digest('hex'),
    }
  })
}

export { journal as sqliteJournal }
