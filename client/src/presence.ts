import type { OnlineUser, PresenceFrame } from './types.ts'

/**
 * Who is online in a room. The server announces changes but sends no list when a socket opens, so
 * after each connect the list is fetched (room detail's `online_users`) and the joins and leaves
 * that arrived meanwhile are applied on top, in order: each user ends as their last event says.
 */
export class Presence {
  readonly online = new Map<string, OnlineUser>()
  /** Joins and leaves heard while a fetch is under way. */
  private early: PresenceFrame[] | null = null
  private generation = 0

  constructor(private readonly fetchOnline: () => Promise<OnlineUser[]>) {}

  /** Rebuilds the map; `changed` when done, `failed` if the fetch failed (the events still apply). */
  refresh(changed: (online: ReadonlyMap<string, OnlineUser>) => void, failed: (error: Error) => void): void {
    const generation = ++this.generation
    this.early = []
    const settle = (users: OnlineUser[] | null, error?: unknown) => {
      if (generation !== this.generation) return
      const early = this.early ?? []
      this.early = null
      if (users) {
        this.online.clear()
        for (const user of users) this.online.set(user.user_id, user)
      }
      for (const frame of early) this.set(frame)
      if (error !== undefined) failed(error instanceof Error ? error : new Error(String(error)))
      changed(this.online)
    }
    this.fetchOnline().then(settle, (error: unknown) => settle(null, error))
  }

  /** A join or a leave from the socket. */
  apply(frame: PresenceFrame, changed: (online: ReadonlyMap<string, OnlineUser>) => void): void {
    if (this.early) return void this.early.push(frame)
    this.set(frame)
    changed(this.online)
  }

  private set(frame: PresenceFrame): void {
    if (frame.type === 'chat.user.leave') return void this.online.delete(frame.user_id)
    // A join names no picture; keep the one the list had.
    const picture = this.online.get(frame.user_id)?.profile_picture_url ?? null
    this.online.set(frame.user_id, { user_id: frame.user_id, nickname: frame.username, profile_picture_url: picture })
  }
}
