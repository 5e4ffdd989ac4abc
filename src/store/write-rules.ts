import { sql } from 'drizzle-orm'
import { closedDirectRoom, type Tables } from './membership.ts'
import { SanctionedError, SlowModeError } from './rows.ts'

/**
 * The rules of who may write what, checked where a write commits (appends on both stores,
 * changes), beside membership and the room's status: mutes, bans and slow mode. The facts come
 * from the room's row and the sender's rows, read under the room's lock; the decisions are here,
 * once.
 */

/** A mute or ban of a user in a room. */
export type SanctionKind = 'mute' | 'ban'

/** A sanction as a write reads it: its kind and when it ends (null: until lifted). */
export interface ActiveSanction {
  kind: SanctionKind
  until: number | null
}

/**
 * 1 when the room has any mute or ban row, else 0; read with the room's row, so the writes of a
 * room nobody was ever sanctioned in (most rooms) look no further.
 */
export const sanctionedRoom = (t: Pick<Tables, 'sanctions'>, room: Tables['rooms']) => sql<number>`case when exists (select 1 from ${t.sanctions} where ${t.sanctions.roomId} = ${room.id}) then 1 else 0 end`.mapWith(Number)

/** What an append reads of its room, under the room's lock, on either store: its position, kind and whether it takes writes. */
export const roomAsAppendsRead = (t: Pick<Tables, 'rooms' | 'members' | 'blocks' | 'sanctions'>) => ({
  lastSeq: t.rooms.lastSeq,
  version: t.rooms.version,
  kind: t.rooms.kind,
  status: t.rooms.status,
  direct: closedDirectRoom(t, t.rooms),
  slowModeSeconds: t.rooms.slowModeSeconds,
  sanctioned: sanctionedRoom(t, t.rooms),
})

/** The sanction in force at `now` among a user's (a ban before a mute), or null. */
export function inForce(sanctions: readonly ActiveSanction[], now: number): ActiveSanction | null {
  let found: ActiveSanction | null = null
  for (const s of sanctions) {
    if (s.until !== null && s.until <= now) continue
    if (s.kind === 'ban') return s
    found = s
  }
  return found
}

/** Why the user may not write to the room now, for the sanction in force, or null. */
export function sanctionRefusal(roomId: number, userId: string, sanction: ActiveSanction | null): SanctionedError | null {
  if (sanction === null) return null
  return new SanctionedError(sanction.kind === 'ban' ? 'banned' : 'muted', roomId, userId, sanction.until)
}

/**
 * Slow mode: how long (ms) the sender must still wait after their last message (`lastSentAt`)
 * before another may go at `now`, or 0. Off when `slowModeSeconds` is 0.
 */
export function slowModeWait(slowModeSeconds: number, lastSentAt: number | null, now: number): number {
  if (slowModeSeconds <= 0 || lastSentAt === null) return 0
  return Math.max(0, lastSentAt + slowModeSeconds * 1000 - now)
}

/** The refusal for a wait past slow mode, or null. */
export const slowModeRefusal = (roomId: number, wait: number): SlowModeError | null => (wait > 0 ? new SlowModeError(roomId, wait) : null)
