import { encodePresenceFrame } from './codec.ts'

/** A room's presence as Redis holds it at one version: who is present, with their nicknames. */
export interface RoomPresence {
  version: number
  /**
   * The first version Redis remembers (presence-scripts.ts): a user missing whose last change was
   * older may have been lost by a restart without persistence rather than announced gone.
   */
  origin: number
  /** User id -> nickname. */
  present: Map<string, string>
}

/** A join or leave as a room's channel carries it (redis-wire.ts, envelope `p`). */
export interface AnnouncedChange {
  user: string
  version: number
  joined: boolean
  /** The frame sockets get. */
  frame: string
}

/** A join or leave this instance's sockets must hear, framed. */
export interface Correction {
  user: string
  joined: boolean
  frame: string
}

/** What one user's presence was last, as far as this instance's sockets in the room know. */
interface Entry {
  version: number
  present: boolean
  nickname: string
  /** False while known only from the room's presence read when the watch began: its sockets were told nothing. */
  told: boolean
}

/** The nickname a presence frame carries, if it can be read. */
function nicknameIn(frame: string): string | undefined {
  try {
    const username = (JSON.parse(frame) as { username?: unknown }).username
    return typeof username === 'string' ? username : undefined
  } catch {
    return undefined
  }
}

/**
 * What one instance's sockets in one room were last told of each user's presence, and as of which
 * version of the room's presence (presence-scripts.ts). A join or leave heard on the room's channel
 * is delivered only if it is newer and changes what they were told (a join after a join says
 * nothing new), whatever order Redis's messages come in.
 *
 * Messages published while the instance's subscription was broken are lost for good, so after it
 * is rebuilt the broker reads the room's presence from Redis at its current version and settles:
 * each user whose state there differs from what the sockets were told is delivered as a join or a
 * leave, once, and recorded at that version, so that a copy of a change the read already counted
 * is dropped when it arrives after it. A user missing from the read is taken as gone only if the
 * sockets heard of them since Redis's origin: one that a Redis restarted empty forgot is written
 * back by their instance (or announced gone by the sweep) soon, and heard then.
 */
export class PresenceLedger {
  private readonly users = new Map<string, Entry>()

  /** A join or leave heard on the room's channel: true when the sockets must hear it. Records it. */
  heard(change: AnnouncedChange): boolean {
    const seen = this.users.get(change.user)
    if (seen && change.version <= seen.version) {
      // Counted by the read when the watch began, which told the sockets nothing: a join they still
      // have to hear (a leave older than the read is not: the read found the user present).
      if (seen.told || !seen.present || !change.joined) return false
      seen.told = true
      return true
    }
    const nickname = nicknameIn(change.frame) ?? seen?.nickname ?? change.user
    this.users.set(change.user, { version: change.version, present: change.joined, nickname, told: true })
    return !seen || seen.present !== change.joined
  }

  /**
   * Brings what the sockets were told in line with the room's presence read from Redis: returns
   * the joins and leaves they must hear, recorded as told. A user heard of at the read's version or
   * a newer one is left alone (that change came after the read). A user present whom the ledger
   * never heard of is announced (`announce`: they came while nothing reached this instance) or only
   * noted (`assume`: the watch has just begun; its sockets learn who was there from the room's detail).
   */
  settle(snapshot: RoomPresence, newcomers: 'announce' | 'assume'): Correction[] {
    const corrections: Correction[] = []
    for (const [user, seen] of this.users) {
      if (seen.version >= snapshot.version) continue
      const nickname = snapshot.present.get(user)
      // Missing, but maybe forgotten rather than gone: what comes next about them will tell.
      if (nickname === undefined && seen.present && seen.version < snapshot.origin) continue
      seen.version = snapshot.version
      if (nickname !== undefined) seen.nickname = nickname
      if (seen.present === (nickname !== undefined)) continue
      seen.present = nickname !== undefined
      seen.told = true
      corrections.push(this.correction(user, seen))
    }
    for (const [user, nickname] of snapshot.present) {
      if (this.users.has(user)) continue
      const entry: Entry = { version: snapshot.version, present: true, nickname, told: newcomers === 'announce' }
      this.users.set(user, entry)
      if (entry.told) corrections.push(this.correction(user, entry))
    }
    return corrections
  }

  private correction(user: string, entry: Entry): Correction {
    return { user, joined: entry.present, frame: encodePresenceFrame(entry.present ? 'chat.user.join' : 'chat.user.leave', user, entry.nickname) }
  }
}
