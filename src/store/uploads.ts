import { and, asc, eq, gt, isNull, lte, sql } from 'drizzle-orm'
import { rows, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'

/**
 * A file or photo as a message keeps it (in `messages.attachments`, so reads need no join): what
 * its URLs are made from. The files are stored under keys made from `id` (see `fileKeys`).
 */
export interface StoredAttachment {
  id: string
  kind: 'image' | 'file'
  contentType: string
  size: number
  name: string
  width: number | null
  height: number | null
  /** The thumbnail's content type, or null when it has none. */
  thumbnailType: string | null
}

/** An upload as stored, before any message takes it. */
export interface NewUpload extends StoredAttachment {
  userId: string
  createdAt: number
  expiresAt: number
}

/**
 * The daily allowance's window: a user's uploads of the last this-many ms count against
 * UPLOAD_BYTES_PER_DAY, so their rows are kept at least that long (after their files go).
 */
export const QUOTA_WINDOW_MS = 86_400_000

/** The storage keys of an upload's file and thumbnail: made from its id alone, never from user input. */
export const fileKeys = (id: string) => ({ file: `f/${id.slice(0, 2)}/${id}`, thumbnail: `t/${id.slice(0, 2)}/${id}` })

/** An upload's row. */
type UploadRow = typeof import('../db/schema.ts').uploads.$inferSelect

/** Why a send may not attach an upload (its REST status and `chat.error` code). */
export type ClaimRefusal = 'upload_not_found' | 'upload_expired' | 'upload_already_attached'

export class ClaimRefused extends Error {
  constructor(
    readonly code: ClaimRefusal,
    readonly uploadId: string,
  ) {
    super(`${code}: ${uploadId}`)
    this.name = 'ClaimRefused'
  }
}

/** Files whose time is up: their keys, to delete from the file storage. */
export interface DueFiles {
  id: string
  thumbnail: boolean
}

/** The bytes a user uploaded after `dayStart` (a sum of one index range; Postgres may give it as text). */
const usedSince = (q: QueryBuilder, t: SqlDatabase['t'], userId: string, dayStart: number) =>
  q
    .select({ bytes: sql<number | string | null>`sum(${t.uploads.size})` })
    .from(t.uploads)
    .where(and(eq(t.uploads.userId, userId), gt(t.uploads.createdAt, dayStart)))

/**
 * The uploads table, written once for both databases. An upload goes: recorded (within the user's
 * daily quota) → claimed by one send → linked to its message in the append's transaction (the stores
 * do that, see `linkStatement`) → on unsend, its files due after the retention. Uploads never
 * attached are due at their expiry. The cleaner deletes due files, then forgets rows a day old.
 */
export class Uploads {
  /** A send's claim, a statement per upload, built once (see `SqlDatabase.statement`): every photo sent makes one. */
  private readonly claims

  constructor(private readonly database: SqlDatabase) {
    const u = database.t.uploads
    const p = sql.placeholder
    this.claims = {
      upload: database.statement(
        (tx) =>
          tx
            .select()
            .from(u)
            .where(eq(u.id, p('id'))),
        'lock',
      ),
      take: database.statement(
        (tx) =>
          tx
            .update(u)
            .set({ claim: sql`${p('claim')}` })
            .where(eq(u.id, p('id'))),
        'run',
      ),
    }
  }

  /**
   * Records an upload if the user's uploads of the last day leave room for it (`bytesPerDay`);
   * false when they do not. On SQLite the check and the insert are one writer's; on Postgres two
   * uploads of one user at the same instant may both pass (the quota is a limit on abuse, not an
   * account balance).
   */
  record(upload: NewUpload, bytesPerDay: number, dayStart: number): Promise<boolean> {
    const { t } = this.database
    return this.database.transaction(function* (tx) {
      const [used] = yield* rows(usedSince(tx, t, upload.userId, dayStart))
      if (Number(used?.bytes ?? 0) + upload.size > bytesPerDay) return false
      yield* run(tx.insert(t.uploads).values(upload))
      return true
    })
  }

  /** Whether the user's uploads of the last day leave room for `bytes` more (a check before reading an upload; `record` decides). */
  async hasRoom(userId: string, bytes: number, bytesPerDay: number, dayStart: number): Promise<boolean> {
    const [used] = await usedSince(this.database.db, this.database.t, userId, dayStart)
    return Number(used?.bytes ?? 0) + bytes <= bytesPerDay
  }

  /** Forgets an upload whose files could not be stored (its quota given back). */
  async forget(id: string): Promise<void> {
    const { db, t } = this.database
    await db.delete(t.uploads).where(and(eq(t.uploads.id, id), isNull(t.uploads.messageId)))
  }

  /**
   * Claims uploads for one send (`claim`: its room and client_msg_id, so a repeat of the send claims
   * them again): all of them or none. Each must be the user's, not expired, and not taken by another
   * send. Gives them in the order asked.
   */
  claim(ids: readonly string[], userId: string, claim: string, now: number): Promise<StoredAttachment[]> {
    const s = this.claims
    return this.database.transaction(function* () {
      const found = new Map<string, UploadRow>()
      // Locked in one order (ascending ids), so two sends of overlapping uploads cannot deadlock.
      for (const id of [...ids].sort()) {
        const [row] = yield* s.upload({ id })
        if (row) found.set(id, row)
      }
      const claimed: StoredAttachment[] = []
      for (const id of ids) {
        const row = found.get(id)
        // Another user's upload is as unknown as a missing one: its id tells nothing.
        if (!row || row.userId !== userId) throw new ClaimRefused('upload_not_found', id)
        const mine = row.claim === claim
        if (!mine && (row.claim !== null || row.messageId !== null)) throw new ClaimRefused('upload_already_attached', id)
        if (!mine && (row.deleteAt !== null || row.expiresAt <= now)) throw new ClaimRefused('upload_expired', id)
        claimed.push({ id: row.id, kind: row.kind, contentType: row.contentType, size: row.size, name: row.name, width: row.width, height: row.height, thumbnailType: row.thumbnailType })
      }
      for (const id of ids) yield* s.take({ id, claim })
      return claimed
    })
  }

  /** Lets go of a send's claim that stored no message (refused, failed): its uploads may be attached again. */
  async release(claim: string): Promise<void> {
    const { db, t } = this.database
    await db
      .update(t.uploads)
      .set({ claim: null })
      .where(and(eq(t.uploads.claim, claim), isNull(t.uploads.messageId)))
  }

  /**
   * Marks uploads never attached whose expiry passed before `before` as due now. (`before` lags the
   * clock by a grace: a send that claimed one just before it expired is still appending.)
   */
  async expire(before: number, now: number): Promise<number> {
    const { db, t } = this.database
    const u = t.uploads
    const gone = await db
      .update(u)
      .set({ deleteAt: now })
      .where(and(isNull(u.messageId), isNull(u.deleteAt), lte(u.expiresAt, before)))
      .returning({ id: u.id })
    return gone.length
  }

  /** Uploads whose files are due (at or before `now`), oldest first. */
  async due(now: number, limit: number): Promise<DueFiles[]> {
    const { db, t } = this.database
    const u = t.uploads
    const found = await db
      .select({ id: u.id, thumbnailType: u.thumbnailType })
      .from(u)
      .where(and(lte(u.deleteAt, now), eq(u.filesDeleted, 0)))
      .orderBy(asc(u.deleteAt))
      .limit(limit)
    return found.map((row) => ({ id: row.id, thumbnail: row.thumbnailType !== null }))
  }

  /** Notes that an upload's files are deleted; its row is forgotten once a day old (`dayStart`). */
  async filesDeleted(id: string, dayStart: number): Promise<void> {
    const { db, t } = this.database
    const u = t.uploads
    await db.update(u).set({ filesDeleted: 1 }).where(eq(u.id, id))
    await db.delete(u).where(and(eq(u.id, id), lte(u.createdAt, dayStart)))
  }

  /** Forgets rows whose files are gone and which the daily quota no longer counts. */
  async forgetOld(dayStart: number): Promise<number> {
    const { db, t } = this.database
    const u = t.uploads
    const gone = await db
      .delete(u)
      .where(and(eq(u.filesDeleted, 1), lte(u.createdAt, dayStart)))
      .returning({ id: u.id })
    return gone.length
  }

  /** The upload's row, or undefined. */
  async get(id: string) {
    const { db, t } = this.database
    const [row] = await db.select().from(t.uploads).where(eq(t.uploads.id, id))
    return row
  }
}

/** The condition of the uploads a send claimed that its stored message takes (the stores run it in the append's transaction). */
export const claimedBy = (t: SqlDatabase['t'], claim: unknown) => and(eq(t.uploads.claim, claim as string), isNull(t.uploads.messageId))

/** The statement that makes an unsent message's files due after the retention, run in the unsend's transaction. */
export function unsentFilesStatement(database: SqlDatabase) {
  const { t } = database
  const p = sql.placeholder
  return database.statement(
    (tx) =>
      tx
        .update(t.uploads)
        .set({ deleteAt: sql`${p('deleteAt')}` })
        .where(eq(t.uploads.messageId, p('messageId'))),
    'run',
  )
}
