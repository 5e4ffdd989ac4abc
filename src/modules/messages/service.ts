import type { Caller, IdentifiedCaller } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { AppError, conflict, forbidden, notFound, unavailable } from '../../errors.ts'
import type { Identity } from '../../identity.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { EventConsumers } from '../../realtime/consumers.ts'
import { messageEvent, noticedEvent, userEvent } from '../../realtime/events.ts'
import { ChangeRefused, type ChangeRefusal, type ChangeRequest, type ChangeResult, type ChangeRules, type MessageChange } from '../../store/messages.ts'
import type { AppendResult, MessageHistoryEntry, MessageRow, ReplyQuote, Store } from '../../store/store.ts'
import { ClaimRefused, type ClaimRefusal } from '../../store/uploads.ts'
import { randomUUID } from 'node:crypto'
import type { RoomAccess } from '../rooms/access.ts'
import type { HistoryQuery } from './model.ts'
import type { Screening, ScreenedText } from '../moderation/screening.ts'

/** No screening (unit tests of the service alone): every text is stored as given. */
const passThrough = { message: (_roomId: number, text: string): ScreenedText => ({ text, screened: undefined, notice: null }) }

/** Distinct emojis one message may carry. */
const MAX_REACTIONS = 20

/** The windows and limits of changes, from the settings. */
export const changeRules = (config: Pick<Config, 'EDIT_WINDOW_SECONDS' | 'UNSEND_WINDOW_SECONDS' | 'DELETED_RETENTION_DAYS'>): ChangeRules => ({
  editWindowMs: config.EDIT_WINDOW_SECONDS * 1000,
  unsendWindowMs: config.UNSEND_WINDOW_SECONDS * 1000,
  maxReactions: MAX_REACTIONS,
  fileRetentionMs: config.DELETED_RETENTION_DAYS * 86_400_000,
})

/** Why a change or a reply was refused, as REST answers it (its `code` is also the socket's `chat.error` code). */
type MessageRefusal = ChangeRefusal | 'reply_to_other_room'

const refusals: Record<MessageRefusal, () => AppError> = {
  message_not_found: () => notFound('message_not_found', 'No such message in this room.'),
  not_author: () => forbidden('not_author', 'Only its author may do this to a message.'),
  edit_window_closed: () => conflict('edit_window_closed', 'This message is too old to edit.'),
  unsend_window_closed: () => conflict('unsend_window_closed', 'This message is too old to unsend.'),
  deleted: () => conflict('deleted', 'This message was unsent.'),
  too_many_reactions: () => conflict('too_many_reactions', `A message may carry at most ${MAX_REACTIONS} different reactions.`),
  reply_to_other_room: () => new AppError(422, 'reply_to_other_room', 'Unprocessable Content', 'A reply answers a message of the same room.', [{ path: 'reply_to', message: 'must be a message of this room' }]),
}

/** What the app's backend says in a room: its text, its data and whether it counts as unread. */
export interface SystemMessage {
  text: string
  data: Record<string, unknown> | null
  silent: boolean
}

/** What a sender sends: its text, client_msg_id, the message it answers (an id, then its quote) and its uploads' ids. */
export interface Outgoing<Reply = number> {
  text: string
  clientMsgId: string | null
  replyTo: Reply | null
  attachments: readonly string[]
}

const claimRefusals: Record<ClaimRefusal, [number, string]> = {
  upload_not_found: [422, 'No such upload of yours (uploads are sent by whoever uploaded them).'],
  upload_expired: [422, 'This upload waited too long to be sent (UPLOAD_TTL_SECONDS); upload the file again.'],
  upload_already_attached: [409, 'This upload was sent with another message already; upload the file again to send it twice.'],
}

/** A refused attachment as REST answers it (its `code` is also the socket's `chat.error` code). */
function claimRefusal(err: ClaimRefused, index: number): AppError {
  const [status, detail] = claimRefusals[err.code]
  return new AppError(status, err.code, status === 409 ? 'Conflict' : 'Unprocessable Content', detail, [{ path: `attachments.${index}`, message: err.code }])
}

/** The refusal as REST answers it. */
const refusal = (code: MessageRefusal): AppError => refusals[code]()

/** Storing, changing and reading messages; each stored change is published to its room. */
export class MessageService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly metrics: Metrics,
    /** The instance's consumers, told of each message once it has committed, before it is published. */
    private readonly consumers: Pick<EventConsumers, 'committed'> = { committed() {} },
    private readonly rules: ChangeRules = changeRules({ EDIT_WINDOW_SECONDS: 86_400, UNSEND_WINDOW_SECONDS: 86_400, DELETED_RETENTION_DAYS: 30 }),
    /** Word filters and the contact guard, on every text before it is stored. */
    private readonly screening: Pick<Screening, 'message'> = passThrough,
  ) {}

  /**
   * Stores a message from the caller: 404 for an unknown room, 403 for a room the caller may not
   * use (`not_a_member`) or a direct room whose pair blocked each other (`blocked`). Resolves once
   * committed. Membership is checked again where the message commits (NotAMemberError): a removal
   * answered before then wins.
   */
  async send(caller: IdentifiedCaller, roomId: number, outgoing: Outgoing): Promise<AppendResult> {
    // Most sends go to open rooms this instance has seen: nothing to look up, nothing to wait for.
    let open = this.access.knownOpen(roomId)
    if (!open) {
      const { room } = await this.mayWrite(roomId, caller)
      open = room.kind === 'open'
    }
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; the message was not stored. Send it again shortly.')
    const quote = outgoing.replyTo === null ? null : await this.quote(roomId, outgoing.replyTo)
    const result = await this.record(caller.identity, roomId, { ...outgoing, replyTo: quote }, caller.service)
    if (open) this.tookPart(caller.identity.userId, roomId)
    return result
  }

  /**
   * Stores a system message from the app's backend (a service call): 404 for an unknown room.
   * Stored in the room's order with no sender, even in an archived room.
   */
  async sendSystem(roomId: number, system: SystemMessage, caller: Caller): Promise<MessageRow> {
    await this.access.admit(roomId, caller)
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; the message was not stored. Send it again shortly.')
    return this.recordSystem(roomId, system)
  }

  /** Stores a system message in a room known to exist and, once committed, publishes it to the room. */
  async recordSystem(roomId: number, { text, data, silent }: SystemMessage): Promise<MessageRow> {
    const result = await this.store.appendMessage({ roomId, userId: '', email: '', nickname: '', profileUrl: null, body: text, clientMsgId: null, createdAt: Date.now(), viaService: true, system: { silent, data } })
    this.metrics.messagesStored.inc()
    this.consumers.committed(result.message)
    this.broker.publish(messageEvent(result.message))
    return result.message
  }

  /**
   * Edits, unsends or reacts to a message for the caller (REST): 404 for an unknown room, 403 where
   * the caller may not send, then the change's own rules (`refusal`). Resolves once committed.
   */
  async change(caller: IdentifiedCaller, roomId: number, messageId: number, change: MessageChange): Promise<ChangeResult> {
    await this.mayWrite(roomId, caller)
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; nothing was changed. Try again shortly.')
    return this.applyChange(caller.identity.userId, caller.service, roomId, messageId, change)
  }

  /**
   * Stores a change of a message of a room known to exist (a socket's own room, or after `change`'s
   * checks) and, once committed, publishes it to the room; a change that changes nothing (a second
   * identical reaction, an unsend of an unsent message) is not published. Refusals throw as REST
   * answers them (`refusal`); membership is checked again where it commits (NotAMemberError).
   */
  async applyChange(by: string, service: boolean, roomId: number, messageId: number, change: MessageChange): Promise<ChangeResult> {
    // An edit's text is screened as a message's.
    const screened = change.type === 'edit' ? await this.screening.message(roomId, change.body) : null
    const request: ChangeRequest = { roomId, messageId, by, service, change: screened ? { type: 'edit', body: screened.text } : change, at: Date.now(), rules: this.rules, screened: screened?.screened }
    let result: ChangeResult
    try {
      result = await this.store.changeMessage(request)
    } catch (err) {
      if (err instanceof ChangeRefused) throw refusal(err.code)
      throw err
    }
    if (result.made) {
      this.metrics.messagesChanged.labels(result.made.type).inc()
      this.consumers.committed(result.message)
      this.broker.publish(noticedEvent(messageEvent(result.message, result.made), screened?.notice ?? null))
    }
    return result
  }

  /** What a reply shows of the message it answers: 404 `message_not_found` unknown, 422 `reply_to_other_room`. */
  async quote(roomId: number, messageId: number): Promise<ReplyQuote> {
    const [target] = await this.store.messagesByIds([messageId])
    if (!target) throw refusal('message_not_found')
    if (target.roomId !== roomId) throw refusal('reply_to_other_room')
    return { id: target.id, userId: target.userId, nickname: target.nickname, body: target.body, deleted: target.deleted }
  }

  /** The room, if the caller may write to it: 404, 403 `not_a_member`, or 403 `blocked` in a direct room whose pair blocked each other. */
  private async mayWrite(roomId: number, caller: IdentifiedCaller) {
    const admitted = await this.access.admit(roomId, caller)
    if (await this.access.blocked(admitted.room)) throw forbidden('blocked', 'One of the two people in this direct room has blocked the other; messages cannot be sent or changed here.')
    return admitted
  }

  /** What a room's changes were after a version, for a caller who may read it (`GET …/changes/`). */
  async changes(roomId: number, afterVersion: number, limit: number, caller: Caller) {
    return this.access.read(roomId, caller, () => this.store.changesAfter(roomId, afterVersion, limit))
  }

  /** The texts a message had (service calls): 404 for an unknown message. */
  async history(messageId: number): Promise<MessageHistoryEntry[]> {
    const [message] = await this.store.messagesByIds([messageId])
    if (!message) throw refusal('message_not_found')
    const entries = await this.store.messageHistory(messageId)
    // A message never changed has one text: the one it has.
    return entries.length > 0 ? entries : [{ body: message.body, at: message.createdAt, action: 'created', by: message.userId }]
  }

  /** False while messages could be stored but not delivered live: sends are refused then. */
  get live(): boolean {
    return this.broker.available
  }

  /**
   * Stores a message to a room known to exist (a socket's own room) and, once committed, publishes
   * it to the room (a repeat of a client_msg_id is not published again). Appends resolve in commit
   * order, so messages are published in the order they were committed. The store refuses a sender
   * who is not a member of a private or direct room at commit (NotAMemberError), unless the app's
   * backend sends it (`viaService`).
   */
  async record(sender: Identity, roomId: number, outgoing: Outgoing<ReplyQuote>, viaService = false): Promise<AppendResult> {
    const { clientMsgId, replyTo } = outgoing
    const screening = this.screening.message(roomId, outgoing.text)
    const { text, screened, notice } = screening instanceof Promise ? await screening : screening
    const attached = outgoing.attachments.length === 0 ? null : await this.claim(sender.userId, roomId, clientMsgId, outgoing.attachments)
    let result: AppendResult
    try {
      result = await this.store.appendMessage({
        roomId,
        userId: sender.userId,
        email: sender.email,
        nickname: sender.nickname,
        profileUrl: sender.profileUrl,
        body: text,
        clientMsgId,
        createdAt: Date.now(),
        viaService,
        replyTo,
        attachments: attached?.attachments,
        claim: attached?.claim,
        screened,
      })
    } catch (err) {
      // Not stored: the uploads may be sent again (by a retry, or with another message).
      if (attached) await this.store.uploads.release(attached.claim).catch(() => {})
      throw err
    }
    if (!result.duplicate) {
      this.metrics.messagesStored.inc()
      this.consumers.committed(result.message)
      this.broker.publish(noticedEvent(messageEvent(result.message), notice))
    }
    return result
  }

  /**
   * Claims a send's uploads (all or none; see store/uploads.ts): the sender's own, not expired, not
   * sent with another message. A repeat of a client_msg_id claims them again (its first send may
   * have stored them already; the append then answers with that message).
   */
  private async claim(userId: string, roomId: number, clientMsgId: string | null, ids: readonly string[]) {
    const claim = clientMsgId === null ? `once:${randomUUID()}` : `${roomId}:${userId}:${clientMsgId}`
    try {
      return { claim, attachments: await this.store.uploads.claim(ids, userId, claim, Date.now()) }
    } catch (err) {
      if (err instanceof ClaimRefused) throw claimRefusal(err, ids.indexOf(err.uploadId))
      throw err
    }
  }

  /**
   * The user sent to an open room, which is in their inbox from then on: their streams hear of it
   * (and ignore it when they follow the room already).
   */
  tookPart(userId: string, roomId: number): void {
    this.broker.publish(userEvent(userId, { type: 'room', room: roomId }))
  }

  /** A page of the room's messages, for a caller who may read it. */
  async page(roomId: number, query: HistoryQuery, caller: Caller): Promise<MessageRow[]> {
    return this.access.read(roomId, caller, () => this.store.listMessages(roomId, query))
  }
}
