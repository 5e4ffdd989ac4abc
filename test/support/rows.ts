import { Database } from 'bun:sqlite'
import { SQL } from 'bun'
import { join } from 'node:path'

/** A members row as stored, read straight from the database (not through the server's API). */
interface StoredMember {
  roomId: number
  userId: string
  role: string
}

/**
 * Reads what a test server stored, straight from its database: the server's own answers are what
 * the tests check, and this is how they check that nothing else was left behind.
 */
export interface StoredRows {
  /** Every members row of the user (any role, any room). */
  membersOf(userId: string): Promise<StoredMember[]>
  /** Runs one statement on the server's database (a test putting rows there as an older server left them). */
  execute(statement: string): Promise<void>
  close(): Promise<void>
}

/** The rows of a server on SQLite (`dir` holds chat.db) or Postgres (`env.DATABASE_URL`). */
export function storedRows(env: Record<string, string>, dir: string): StoredRows {
  const url = env.DATABASE_URL
  if (url) {
    const sql = new SQL(url, { max: 1 })
    return {
      async membersOf(userId) {
        const rows = (await sql`select room_id, user_id, role from members where user_id = ${userId} order by room_id`) as { room_id: string | number; user_id: string; role: string }[]
        return rows.map((r) => ({ roomId: Number(r.room_id), userId: r.user_id, role: r.role }))
      },
      execute: async (statement) => void (await sql.unsafe(statement)),
      close: () => sql.close(),
    }
  }
  const db = new Database(join(dir, 'chat.db'))
  return {
    async membersOf(userId) {
      return db
        .query<{ room_id: number; user_id: string; role: string }, [string]>('select room_id, user_id, role from members where user_id = ? order by room_id')
        .all(userId)
        .map((r) => ({ roomId: r.room_id, userId: r.user_id, role: r.role }))
    },
    execute: async (statement) => void db.run(statement),
    close: async () => db.close(),
  }
}
