import type { MigrationMeta } from 'drizzle-orm/migrator'
import { StartRefused } from '../start-refused.ts'
import { version } from '../version.ts'

/** What a database's own bookkeeping says about the migrations it has had. */
export interface AppliedSchema {
  /** How many migrations were applied: the schema version. */
  applied: number
  /** The newest applied migration's journal time (drizzle's `created_at`), null on a new database. */
  newest: number | null
  /** The release that applied the newest one, when it recorded itself (0.3 and later). */
  migratedBy: string | null
}

/**
 * The database was migrated by a newer release than this one: an older server would write rows
 * the newer schema misreads, so it does not start (exit status 2).
 */
class DatabaseTooNew extends StartRefused {
  constructor(
    readonly where: string,
    readonly found: AppliedSchema,
    readonly known: number,
  ) {
    const by = found.migratedBy ? `, migrated by chat-server ${found.migratedBy}` : ''
    const needed = found.migratedBy ? `chat-server ${found.migratedBy} or newer` : 'the newer release that upgraded it'
    super(
      `${where} has schema version ${found.applied}${by}; this is chat-server ${version}, which knows schema versions up to ${known}: run ${needed}, or restore the backup taken before that upgrade (downgrades need the backup)`,
    )
    this.name = 'DatabaseTooNew'
  }
}

/** Throws DatabaseTooNew when the database has a migration newer than every one this build has. */
export function refuseNewerSchema(found: AppliedSchema, known: readonly MigrationMeta[], where: string): void {
  const newestKnown = known.at(-1)?.folderMillis ?? 0
  if (found.newest !== null && found.newest > newestKnown) throw new DatabaseTooNew(where, found, known.length)
}

/** A Postgres URL as it may be logged: without its password. */
export function describePostgres(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    return `Postgres database ${parsed.href}`
  } catch {
    return 'the Postgres database'
  }
}
