// The room the test page is in, over the client library's room connection: the header with the
// post it is about, the state badge, the message list with pending sends and the messages'
// changes (edits, unsends, reactions, replies), typing, who is online, who has read what, paging,
// leaving; whether the room still takes messages (its deal closed, the other member gone, this
// user muted or banned); the contact guard's warnings, slow mode, and what a moderator does.
import { ChatApiError, type ChatClient, type ConnectionState, type Message, type RoomConnection, type RoomDetail, type StopInfo } from '../../client/src/index.ts'
import { RoomActivity } from './activity.ts'
import { Composer } from './composer.ts'
import { $, showError } from './dom.ts'
import { currentUser, missingUserText, myId, mySender, saveSettings, selectRoom, value } from './identity.ts'
import { onLanguageChange, t } from './labels.ts'
import { MembersPanel } from './members.ts'
import { MessageList } from './message-list.ts'
import { RoomModeration } from './moderation.ts'
import { RoomContext } from './room-context.ts'
import { RoomHeader } from './room-header.ts'

/** What the badge says, for each state of the connection. */
const SHOWN = { connecting: 'connecting', open: 'connected', reconnecting: 'reconnecting', closed: 'disconnected' } as const satisfies Record<ConnectionState, string>
/** A history page, as many as room detail's newest messages. */
const PAGE = 50

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** What to tell the user when a room refuses them. */
function refusalText(id: number, e: unknown): string {
  if (e instanceof ChatApiError && e.code === 'not_a_member') return t('notAMember', id, e.message)
  return t('couldNotOpenRoom', id, errorText(e))
}

/** What to tell the user when the connection stopped for good (other than a removal). */
function stopText(id: number, info: StopInfo): string {
  if (info.reason === 'refused') return refusalText(id, info.error ?? info.message)
  if (info.reason === 'unauthorized') return t('credentialsRefused', info.message)
  return t('closedByServer', info.message)
}

export class RoomView {
  private readonly list: MessageList
  private readonly members: MembersPanel
  private readonly moderation: RoomModeration
  private readonly activity = new RoomActivity()
  private readonly composer: Composer
  /** The room's header, and whether it takes messages. */
  private readonly context: RoomContext
  private room: RoomConnection | null = null
  private state: ConnectionState = 'closed'
  /** The room shown (0: none), and the storage epoch its message ids belong to. */
  private roomId = 0
  private epoch: string | null = null
  /** The room version the messages shown are current to: a new connection replays the changes after it. */
  private version: number | null = null
  /** Room detail is being fetched to see whether the room admits this user. */
  private checking = false
  /** This user asked to leave: the room's 4403 close is their own doing. */
  private leaving = false
  /** Messages that came while the room is fetched again after its database was replaced. */
  private held: Message[] | null = null

  constructor(private readonly client: ChatClient) {
    this.list = new MessageList($('messages'), {
      me: myId,
      sender: mySender,
      unreadBy: (m) => this.room?.unreadBy(m) ?? null,
      actions: {
        reply: (m) => this.composer.replyTo(m),
        edit: (m) => this.composer.edit(m),
        unsend: (m) => this.change(this.room?.unsend(m.id), (why) => t('couldNotUnsend', why)),
        react: (m, emoji, add) => this.change(this.room?.react(m.id, emoji, add), (why) => t('couldNotReact', why)),
        // A moderator unsends others' messages as their authors do their own.
        moderate: (m) => this.moderation.messageActions(m, myId(), () => this.change(this.room?.unsend(m.id), (why) => t('couldNotUnsend', why))),
      },
      noticeOf: (id) => this.room?.noticeOf(id),
      quoteOf: (id) => {
        const m = this.room?.messages.get(id)
        return m ? { id, user_id: m.user_id ?? '', nickname: m.nickname, message: m.deleted ? '' : m.message } : null
      },
    })
    this.moderation = new RoomModeration({
      api: client.api,
      changed: () => {
        this.members.render()
        this.list.redraw()
      },
      error: showError,
    })
    this.members = new MembersPanel({ api: client.api, me: myId, leave: () => void this.leave(), moderation: this.moderation })
    this.composer = new Composer({ room: () => this.room, closed: (code) => this.context.refused(code) })
    this.context = new RoomContext(new RoomHeader($('room-header')), this.composer, myId)
    this.list.el.addEventListener('scroll', () => {
      if (this.list.el.scrollTop < 40) void this.loadOlder()
    })
    document.addEventListener('visibilitychange', () => this.markRead())
    onLanguageChange(() => {
      this.setState(this.state)
      this.list.redraw()
    })
    this.setState('closed')
  }

  /** Opens the room in the room id field, first asking the room whether it admits this user. */
  async connect() {
    saveSettings()
    const id = Number(value('room_id'))
    if (!Number.isInteger(id) || id < 1) return showError(t('enterRoomId'))
    const user = currentUser()
    if (!user) return showError(missingUserText())
    if (this.checking || this.room) return
    // Room detail answers as the socket's handshake would (403 for a non-member, 404 for no
    // room), but with a reason the page can show; and it has the newest messages.
    this.checking = true
    this.setState('connecting')
    let detail: RoomDetail
    try {
      detail = await this.client.api.room(id)
    } catch (e) {
      this.checking = false
      return this.refuse(refusalText(id, e))
    }
    this.checking = false
    // Back in the room shown: the connection replays what came after the newest message shown,
    // and the changes after the version the list is current to.
    if (id !== this.roomId || detail.epoch !== this.epoch || this.version === null) {
      this.list.reset(detail.chat_messages, detail.chat_messages.length < PAGE)
      this.version = detail.version
    }
    this.context.open(detail, id === this.roomId)
    this.roomId = id
    this.epoch = detail.epoch
    this.members.show(id, detail.kind)
    for (const m of detail.chat_messages) this.members.seen(m.user_id, m.nickname)
    this.moderation.open(id, detail.moderation, detail.slow_mode_seconds)
    const room = this.client.room(id, { since: this.list.lastId, epoch: detail.epoch, version: this.version, storage: localStorage, storageKey: `chat-gateway-test:outbox:${user.user_id}:${id}` })
    room.hold(this.list.messages())
    this.follow(room)
  }

  /** Ends the connection; unsent messages stay in storage and go out on the next connect. */
  disconnect() {
    const kept = this.room?.pending.length ?? 0
    this.end()
    if (kept > 0) this.list.notice(() => t('unsentKept', kept))
  }

  /** Shows a room picked elsewhere (the inbox), connecting to it unless it is the one open. */
  show(id: number) {
    selectRoom(id)
    if (id === this.roomId && this.room) return
    this.disconnect()
    void this.connect()
  }

  private follow(room: RoomConnection) {
    this.room = room
    /** Listens while `room` is the page's connection. */
    const on: RoomConnection['on'] = (event, listener) =>
      room.on(event, (payload) => {
        if (room === this.room) listener(payload)
      })
    on('state', (state) => this.setState(state))
    on('message', (m) => this.received(m))
    on('change', (m) => this.list.update(m))
    // Sends waiting for the server: queued here, restored from an earlier page, stored, given up on.
    on('pending', () => this.showPending())
    on('failed', (failure) => this.composer.failed(failure))
    on('upload', (progress) => this.composer.progress(progress))
    on('recovered', (recovered) => {
      if (!recovered.truncated) return
      // What is shown before the gap does not follow on: history pages in from the replay back.
      this.list.dropThrough(recovered.since ?? 0)
      showError(t('manyMissed'))
      void this.loadOlder()
    })
    on('reset', () => void this.reload(room))
    // The connection keeps the room's name, data, status and slow mode as the frame left them.
    on('roomUpdated', (frame) => this.context.changed({ name: room.name, data: room.data, status: room.status, slow_mode_seconds: room.slowModeSeconds }, frame.version))
    // Another user's message shared contact details: the warning goes under it.
    on('notice', (notice) => this.list.redrawMessage(notice.messageId))
    on('moderation', (standing) => this.context.moderation(standing))
    on('slowMode', (until) => this.composer.slowMode(until))
    this.moderation.follow(room)
    on('join', (join) => this.list.notice(() => t('joined', join.username)))
    on('leave', (leave) => this.list.notice(() => t('leftRoom', leave.username)))
    on('presence', (online) => this.activity.online(online))
    on('typing', (typing) => this.activity.typing(typing.user_id, typing.nickname))
    on('reads', () => this.list.refreshUnreadBy())
    on('member', (member) => {
      // This user's own removal is followed by the room's 4403 close, which ends the session.
      if (member.type === 'chat.member.removed' && member.user_id === myId()) return
      void this.members.load()
    })
    on('error', (error) => showError(error.message))
    on('stopped', (info) => {
      if (info.reason === 'removed') return this.leftRoom(this.leaving ? 'youLeftRoom' : 'youWereRemoved')
      if (info.reason === 'banned') {
        this.leftRoom('bannedNotice')
        // The room view says so where the composer was.
        return this.context.ban()
      }
      this.refuse(stopText(room.roomId, info))
    })
    this.setState(room.state)
    this.markRead()
  }

  /** An edit, unsend or reaction under way: the room's frames redraw the message; a refusal is shown. */
  private change(done: Promise<unknown> | undefined, failed: (why: string) => string) {
    done?.catch((e: unknown) => {
      if (e instanceof ChatApiError && e.code) this.context.refused(e.code)
      showError(failed(errorText(e)))
    })
  }

  private received(m: Message) {
    this.context.received(m)
    this.members.seen(m.user_id, m.nickname)
    if (this.held) return void this.held.push(m)
    if (m.user_id !== null) this.activity.typing(m.user_id, null)
    this.list.append(m)
    this.markRead()
  }

  private showPending() {
    this.list.showPending(this.room?.pending ?? [])
  }

  /** Tells the server (soon, once for a burst) that this user has read what the page shows. */
  private markRead() {
    if (this.room && this.list.lastId > 0 && document.visibilityState !== 'hidden') this.room.markRead(this.list.lastId)
  }

  /** The server's database was replaced and ids start over: the room is shown afresh. */
  private async reload(room: RoomConnection) {
    this.held = []
    try {
      const detail = await this.client.api.room(room.roomId)
      if (room !== this.room) return
      this.list.reset(detail.chat_messages, detail.chat_messages.length < PAGE)
      for (const m of this.held) if (m.id > this.list.lastId) this.list.append(m)
      this.epoch = detail.epoch
      // Versions start over too: the header takes the room as it is now.
      this.context.open(detail, true)
      room.resumeFrom(this.list.lastId, detail.epoch, detail.version)
      room.hold(this.list.messages())
    } catch (e) {
      showError(t('couldNotReload', errorText(e)))
    } finally {
      this.held = null
    }
  }

  private async loadOlder() {
    const roomId = this.roomId
    if (!roomId) return
    try {
      const page = async (before: number) => {
        const older = await this.client.api.history(roomId, { before, limit: PAGE })
        // Held, so that their changes from now on redraw them.
        this.room?.hold(older)
        return older
      }
      await this.list.loadOlder(page, PAGE)
    } catch (e) {
      showError(t('couldNotLoadOlder', errorText(e)))
    }
  }

  /** This user leaves the room (removes themself as a member). */
  private async leave() {
    const of = this.roomId
    this.leaving = true
    try {
      await this.client.api.removeMember(of, myId())
    } catch (e) {
      this.leaving = false
      return showError(t('couldNotLeaveRoom', of, errorText(e)))
    }
    // The socket's 4403 close may have ended the session before this answer came.
    if (of === this.roomId) this.leftRoom('youLeftRoom')
  }

  /** Ends the session for good: the room will not take this user back. */
  private leftRoom(notice: 'youLeftRoom' | 'youWereRemoved' | 'bannedNotice') {
    this.end()
    this.list.notice(() => t(notice))
    this.roomId = 0
    this.epoch = null
    this.version = null
    this.leaving = false
    this.context.clear()
    this.members.clear()
    this.moderation.clear()
  }

  /** Stops and says why. */
  private refuse(text: string) {
    this.end()
    showError(text)
  }

  private end() {
    const room = this.room
    this.room = null
    // Where the list's messages stand: the next connection to this room replays the changes after it.
    if (room) this.version = room.version ?? this.version
    room?.close()
    this.moderation.follow(null)
    this.composer.cancel()
    this.composer.slowMode(0)
    this.activity.clear()
    this.showPending()
    this.setState('closed')
  }

  private setState(state: ConnectionState) {
    this.state = state
    const name = SHOWN[state]
    const badge = $('state')
    badge.className = `state state-${name}`
    badge.dataset.state = state
    badge.textContent = t(name)
    const inRoom = this.room !== null
    this.composer.enable(inRoom)
    $<HTMLButtonElement>('connect').disabled = inRoom || this.checking
    $<HTMLButtonElement>('disconnect').disabled = !inRoom
  }
}
