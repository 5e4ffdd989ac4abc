// The lines above and below the messages: who is online in the room, and who is typing.
import type { OnlineUser } from '../../client/src/index.ts'
import { $ } from './dom.ts'
import { onLanguageChange, t } from './labels.ts'

/** How long a typing notice shows without another. */
const TYPING_SHOWN_MS = 3000

export class RoomActivity {
  private readonly typists = new Map<string, { nickname: string; timer: ReturnType<typeof setTimeout> }>()
  private users: ReadonlyMap<string, OnlineUser> = new Map()

  constructor() {
    onLanguageChange(() => {
      this.showTyping()
      this.online(this.users)
    })
  }

  /** A user is typing (`nickname`), or no longer is (null: they sent, or it is over). */
  typing(userId: string, nickname: string | null) {
    clearTimeout(this.typists.get(userId)?.timer)
    if (nickname === null) this.typists.delete(userId)
    else this.typists.set(userId, { nickname, timer: setTimeout(() => this.typing(userId, null), TYPING_SHOWN_MS) })
    this.showTyping()
  }

  /** Who is online, as the room connection keeps it. */
  online(users: ReadonlyMap<string, OnlineUser>) {
    this.users = users
    const line = $('online')
    line.textContent = t('online', [...users.values()].map((u) => u.nickname).join(', '))
    line.hidden = users.size === 0
  }

  /** The page left the room. */
  clear() {
    for (const userId of [...this.typists.keys()]) this.typing(userId, null)
    this.online(new Map())
  }

  private showTyping() {
    const names = [...this.typists.values()].map((u) => u.nickname)
    $('typing').textContent = names.length === 0 ? '' : t('typing', names)
  }
}
