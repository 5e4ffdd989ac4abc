// What a moderator of the room shown does on the test page (a moderator named by the app's
// backend, or a private room's owner): mute someone for 10 minutes (10분 채팅 금지) or lift it
// (채팅 금지 해제), ban them (내보내기), each asked first, from the members panel or a message's
// menu, where they also unsend others' messages (삭제); and set slow mode (off, 10, 30 or 60 s).
// Who is muted comes from the room's mutes, read when the room opens and after each change made
// here. A muted user's page reads room detail now and then: nothing else tells it of an unmute.
import type { ChatApi, Message, ModerationStanding, RoomConnection } from '../../client/src/index.ts'
import { $ } from './dom.ts'
import { onLanguageChange, t } from './labels.ts'

/** What a moderator may do to a user or their message. */
export interface ModerationAction {
  kind: 'delete' | 'mute' | 'unmute' | 'ban'
  label: string
  /** Asked before it runs. */
  question?: string
  run: () => void
}

export interface ModerationDeps {
  api: ChatApi
  /** Who is muted, or whether this user moderates, changed: the actions shown are drawn again. */
  changed: () => void
  error: (text: string) => void
}

/** How long 10분 채팅 금지 lasts. */
const MUTE_MS = 10 * 60_000
/** While muted, room detail is read this often. */
const MUTE_RECHECK_MS = 30_000
/** The slow mode choices offered (the room's own value is added when it is another). */
const SLOW_MODE_CHOICES = [0, 10, 30, 60]

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

export class RoomModeration {
  private roomId = 0
  /** The page's connection to the room, while it has one. */
  private room: RoomConnection | null = null
  private muteCheck: ReturnType<typeof setInterval> | undefined
  private moderates = false
  private slowModeSeconds = 0
  private readonly muted = new Set<string>()
  /** Only the newest mutes request counts. */
  private loads = 0
  private readonly select = $<HTMLSelectElement>('slow-mode')

  constructor(private readonly deps: ModerationDeps) {
    this.select.addEventListener('change', () => void this.setSlowMode(Number(this.select.value)))
    onLanguageChange(() => this.renderSlowMode())
  }

  /** Whether this user moderates the room shown. */
  get moderator(): boolean {
    return this.roomId !== 0 && this.moderates
  }

  /** A room opened: this user's standing there, and its slow mode. */
  open(roomId: number, { moderator }: ModerationStanding, slowModeSeconds: number) {
    if (roomId !== this.roomId) this.muted.clear()
    this.roomId = roomId
    this.slowModeSeconds = slowModeSeconds
    this.moderates = moderator
    this.renderSlowMode()
    if (moderator) void this.load()
  }

  /** Follows the page's connection (null: it has none): this user's standing and the room's slow mode. */
  follow(room: RoomConnection | null) {
    this.room = room
    clearInterval(this.muteCheck)
    if (!room) return
    room.on('moderation', (standing) => room === this.room && this.standing(standing))
    room.on('roomUpdated', () => room === this.room && this.slowMode(room.slowModeSeconds))
  }

  /** This user's standing changed (room detail read again, or a write refused `muted`). */
  private standing({ moderator, muted }: ModerationStanding) {
    const was = this.moderates
    this.moderates = moderator
    this.renderSlowMode()
    if (moderator) void this.load()
    else if (was) this.deps.changed()
    clearInterval(this.muteCheck)
    const room = this.room
    if (muted && room)
      this.muteCheck = setInterval(
        () =>
          void this.deps.api.room(room.roomId).then(
            (detail) => room.learn(detail),
            () => {},
          ),
        MUTE_RECHECK_MS,
      )
  }

  /** The room's slow mode, as the room now has it. */
  slowMode(seconds: number) {
    this.slowModeSeconds = seconds
    this.renderSlowMode()
  }

  /** No room is shown. */
  clear() {
    this.roomId = 0
    this.moderates = false
    this.muted.clear()
    this.loads++
    this.renderSlowMode()
  }

  isMuted(userId: string): boolean {
    return this.muted.has(userId)
  }

  /** What this user, if a moderator, may do to another's message (`unsend` it) and its sender. */
  messageActions(m: Message, me: string, unsend: () => void): ModerationAction[] {
    if (!this.moderator || m.user_id === null || m.user_id === me) return []
    return [{ kind: 'delete', label: t('deleteMessage'), question: t('deleteQuestion'), run: unsend }, ...this.actionsFor(m.user_id, m.nickname, me)]
  }

  /** What this user may do to `userId` (named `who`): nothing unless they moderate the room, and never to themself. */
  actionsFor(userId: string, who: string, me: string): ModerationAction[] {
    if (!this.moderator || userId === me) return []
    const roomId = this.roomId
    const mute: ModerationAction = this.muted.has(userId)
      ? { kind: 'unmute', label: t('unmute'), run: () => void this.act(() => this.deps.api.unmute(roomId, userId)) }
      : { kind: 'mute', label: t('muteTenMinutes'), question: t('muteQuestion', who), run: () => void this.act(() => this.deps.api.mute(roomId, userId, new Date(Date.now() + MUTE_MS))) }
    return [mute, { kind: 'ban', label: t('ban'), question: t('banQuestion', who), run: () => void this.act(() => this.deps.api.ban(roomId, userId)) }]
  }

  /** A mute, unmute or ban: the mutes are read again after it (or after its refusal). */
  private async act(call: () => Promise<void>) {
    try {
      await call()
    } catch (e) {
      this.deps.error(t('couldNotModerate', errorText(e)))
    }
    await this.load()
  }

  private async load() {
    const roomId = this.roomId
    const load = ++this.loads
    try {
      const mutes = await this.deps.api.mutes(roomId)
      if (load !== this.loads) return
      this.muted.clear()
      for (const m of mutes) this.muted.add(m.user_id)
      this.deps.changed()
    } catch (e) {
      if (load === this.loads) this.deps.error(t('couldNotModerate', errorText(e)))
    }
  }

  private async setSlowMode(seconds: number) {
    try {
      await this.deps.api.setSlowMode(this.roomId, seconds)
      // chat.room.updated follows, and with it the header's badge.
      this.slowModeSeconds = seconds
    } catch (e) {
      this.deps.error(t('couldNotModerate', errorText(e)))
      this.renderSlowMode()
    }
  }

  /** The slow mode control, for moderators only: off, 10, 30, 60 s (and the room's own value). */
  private renderSlowMode() {
    $('moderation-bar').hidden = !this.moderator
    const choices = [...new Set([...SLOW_MODE_CHOICES, this.slowModeSeconds])].sort((a, b) => a - b)
    this.select.replaceChildren(
      ...choices.map((seconds) => {
        const option = document.createElement('option')
        option.value = String(seconds)
        option.textContent = seconds === 0 ? t('slowModeOff') : t('slowModeChoice', seconds)
        return option
      }),
    )
    this.select.value = String(this.slowModeSeconds)
  }
}
