// The members panel, for private and direct rooms: owners add and remove members, a member
// leaves, a direct room's pair block each other, and a moderator mutes, unmutes and bans.
import type { ChatApi, Member, RoomKind } from '../../client/src/index.ts'
import { $, memberItem, showError, type MemberAction } from './dom.ts'
import { onLanguageChange, t } from './labels.ts'
import type { RoomModeration } from './moderation.ts'

/** What the panel asks of the page. */
export interface MembersDeps {
  api: ChatApi
  /** The page's own user id. */
  me: () => string
  /** This user asked to leave the room. */
  leave: () => void
  /** What this user may do as a moderator, and who is muted. */
  moderation: RoomModeration
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

export class MembersPanel {
  private roomId = 0
  private kind: RoomKind = 'open'
  private members: Member[] = []
  /** Users this user has blocked. */
  private readonly blocked = new Set<string>()
  /** Only the newest members request renders. */
  private loads = 0
  /**
   * Nicknames the room's messages carried, by user: a member the server cannot name yet (profiles
   * are written a moment after they are seen) is named as their messages are.
   */
  private readonly seenNames = new Map<string, string>()

  constructor(private readonly deps: MembersDeps) {
    $('add-member').addEventListener('submit', (event) => {
      event.preventDefault()
      void this.add($<HTMLInputElement>('add_member_user_id').value.trim())
    })
    onLanguageChange(() => this.render())
  }

  /** Shows the panel for a room (hidden for open rooms) and loads its members. */
  show(roomId: number, kind: RoomKind) {
    if (roomId !== this.roomId) {
      this.members = []
      this.seenNames.clear()
    }
    this.roomId = roomId
    this.kind = kind
    this.render()
    void this.load()
  }

  /** Hides the panel: the page has no room. */
  clear() {
    this.roomId = 0
    this.members = []
    this.seenNames.clear()
    this.loads++
    this.render()
  }

  /** Loads the members (and, in a direct room, this user's blocks) of the room shown. */
  async load() {
    if (this.roomId === 0 || this.kind === 'open') return this.render()
    const load = ++this.loads
    const { api } = this.deps
    try {
      const [found, blocks] = await Promise.all([api.members(this.roomId), this.kind === 'direct' ? api.blocks() : Promise.resolve(null)])
      if (load !== this.loads) return
      this.members = found
      if (blocks) {
        this.blocked.clear()
        for (const b of blocks) this.blocked.add(b.user_id)
      }
      this.render()
    } catch (e) {
      if (load === this.loads) showError(t('couldNotListMembers', errorText(e)))
    }
  }

  /** A message of the room shown, from history or live: a member named nowhere else is named as it says. */
  seen(userId: string | null, nickname: string | null) {
    if (userId === null || nickname === null || this.seenNames.get(userId) === nickname) return
    this.seenNames.set(userId, nickname)
    if (this.members.some((m) => m.user_id === userId && m.nickname === null)) this.render()
  }

  /** Draws the members again (who is muted changed, or this user's standing). */
  render() {
    const panel = $('members-panel')
    panel.hidden = this.roomId === 0 || this.kind === 'open'
    const me = this.deps.me()
    const myRole = this.members.find((m) => m.user_id === me)?.role
    $('add-member').hidden = panel.hidden || this.kind !== 'private' || myRole !== 'owner'
    const { moderation } = this.deps
    const named = this.members.map((m) => (m.nickname === null ? { ...m, nickname: this.seenNames.get(m.user_id) ?? null } : m))
    $('members').replaceChildren(...named.map((m) => memberItem(m, m.user_id === me, [...this.actions(m, me, myRole), ...this.moderatorActions(m, me)], moderation.isMuted(m.user_id))))
  }

  /** A moderator's 10분 채팅 금지 (or 채팅 금지 해제) and 내보내기 for another member, each asked first but the unmute. */
  private moderatorActions(m: Member, me: string): MemberAction[] {
    return this.deps.moderation.actionsFor(m.user_id, m.nickname ?? m.user_id, me).map(({ kind, label, question, run }) => ({ label, testid: `${kind}-member`, run, ...(question ? { question } : {}) }))
  }

  private actions(m: Member, me: string, myRole: Member['role'] | undefined): MemberAction[] {
    if (this.kind === 'direct') {
      if (m.user_id === me) return []
      const isBlocked = this.blocked.has(m.user_id)
      return [{ label: t(isBlocked ? 'unblock' : 'block'), testid: 'block-toggle', run: () => void this.setBlocked(m.user_id, !isBlocked) }]
    }
    if (m.user_id === me) return m.role === 'owner' ? [] : [{ label: t('leave'), testid: 'leave-room', run: this.deps.leave }]
    return myRole === 'owner' ? [{ label: t('remove'), testid: 'remove-member', run: () => void this.remove(m.user_id) }] : []
  }

  private async add(userId: string) {
    try {
      await this.deps.api.addMember(this.roomId, userId)
      $<HTMLInputElement>('add_member_user_id').value = ''
      await this.load()
    } catch (e) {
      showError(t('couldNotAdd', userId, errorText(e)))
    }
  }

  private async remove(userId: string) {
    const of = this.roomId
    try {
      await this.deps.api.removeMember(of, userId)
    } catch (e) {
      return showError(t('couldNotRemove', userId, errorText(e)))
    }
    if (of === this.roomId) await this.load()
  }

  private async setBlocked(userId: string, block: boolean) {
    try {
      await (block ? this.deps.api.block(userId) : this.deps.api.unblock(userId))
      if (block) this.blocked.add(userId)
      else this.blocked.delete(userId)
      this.render()
    } catch (e) {
      showError(t(block ? 'couldNotBlock' : 'couldNotUnblock', userId, errorText(e)))
    }
  }
}
