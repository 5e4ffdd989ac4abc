// The protocol's shapes, taken from the server's own zod schemas. Only types cross over (`import
// type`): nothing of zod or the server reaches the bundle, and a server change that breaks this
// client breaks its type check. The build prints these as plain object types (client/build.ts).
import type { z } from 'zod'
import type { problemSchema } from '../../src/openapi/responses.ts'
import type { inboxFrameSchemas, inboxQuerySchema, inboxRoomSchema, inboxSchema } from '../../src/modules/inbox/model.ts'
import type { meSchema } from '../../src/modules/me/model.ts'
import type { blockSchema } from '../../src/modules/members/model.ts'
import type { changesQuerySchema, changesSchema, editMessageBodySchema, historyQuerySchema, messageHistorySchema, sendMessageBodySchema } from '../../src/modules/messages/model.ts'
import type { readMarkerSchema, unreadSchema } from '../../src/modules/reads/model.ts'
import type { reportBodySchema, reportSchema } from '../../src/modules/reports/model.ts'
import type { deadLetterSchema } from '../../src/modules/dead-letters/model.ts'
import type { moderationStandingSchema, queuedReportSchema, reportQuerySchema, sanctionSchema } from '../../src/modules/moderation/model.ts'
import type { adminPageSchema } from '../../src/modules/shared-model.ts'
import type {
  createRoomBodySchema,
  directRoomBodySchema,
  listRoomsQuerySchema,
  memberSchema,
  peerSchema,
  postEventBodySchema,
  postEventResultSchema,
  roomDetailSchema,
  roomKindSchema,
  roomSummarySchema,
  updateRoomBodySchema,
} from '../../src/modules/rooms/model.ts'
import type { clientFrameSchema, messageSchema, serverFrameSchemas } from '../../src/realtime/codec.ts'

/**
 * What a caller may send for a schema: its input, except that fields the server coerces (a number
 * given as a string, `limit` from a query) are typed as what they become.
 */
type Input<S extends z.ZodType> = { [K in keyof z.input<S>]: unknown extends z.input<S>[K] ? z.output<S>[K & keyof z.output<S>] : z.input<S>[K] }

/** One of a set of frame schemas, by its `type`. */
type FrameUnion<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.output<T[K]> }[keyof T]

// ---- REST shapes ----

/** The caller as the gateway identified them (`GET /chat/v1/me/`). */
export type Me = z.output<typeof meSchema>
/** A stored message, as history returns it and `chat.message` carries it. */
export type Message = z.output<typeof messageSchema>
/** The message a reply answers, as the reply quotes it (its text cut to 100 characters, "" once unsent). */
export type ReplyTo = NonNullable<Message['reply_to']>
/** One emoji on a message: how many reacted with it, and the first 10 who did. */
export type Reaction = Message['reactions'][number]
/** A file or photo sent with a message. */
export type Attachment = Message['attachments'][number]
/** `open` (anyone), `private` (owner and members), `direct` (two members). */
export type RoomKind = z.output<typeof roomKindSchema>
/** A room as `GET /chat/v1/rooms/` lists it. */
export type RoomSummary = z.output<typeof roomSummarySchema>
/** The other member of a direct room, as its summary names them (`RoomSummary.peer`). */
export type Peer = z.output<typeof peerSchema>
/** A room with who is online, its newest 50 messages, its members and the storage epoch. */
export type RoomDetail = z.output<typeof roomDetailSchema>
/** A user with a socket open in a room. */
export type OnlineUser = RoomDetail['online_users'][number]
/** A member of a private or direct room, with the profile last seen for them. */
export type Member = z.output<typeof memberSchema>
/** A user the caller has blocked. */
export type Block = z.output<typeof blockSchema>
/** The caller's read marker in a room after a move, and what is unread after it. */
export type ReadMarker = z.output<typeof readMarkerSchema>
/** The unread badge: messages and rooms with any, over the caller's rooms. */
export type Unread = z.output<typeof unreadSchema>
/** A room of the inbox: its summary with the last message, unread count, marker and direct members. */
export type InboxRoom = z.output<typeof inboxRoomSchema>
/** A page of the inbox; pass `next_cursor` back for the next one. */
export type InboxPage = z.output<typeof inboxSchema>
/** The latest form of each message changed after a room version (`GET /chat/v1/room/{id}/changes/`). */
export type ChangesPage = z.output<typeof changesSchema>
/** One text a message had: as sent, as edited, or when unsent (a service call reads them). */
export type MessageRevision = z.output<typeof messageHistorySchema>[number]
/** The rooms about a post that a post-wide event reached (`POST /chat/v1/posts/{post_id}/messages/`). */
export type PostEventResult = z.output<typeof postEventResultSchema>
/** A stored report. */
export type Report = z.output<typeof reportSchema>
/** A report as the queue lists it: with the message reported as it is now and the 10 messages on each side. */
export type QueuedReport = z.output<typeof queuedReportSchema>
/** The caller's own standing in a room (room detail's `moderation`): whether they moderate it, whether and until when they are muted. */
export type ModerationStanding = z.output<typeof moderationStandingSchema>
/** A mute or a ban in force in a room (`until` null: until lifted; `by` null: the app's backend). */
export type Sanction = z.output<typeof sanctionSchema>
/** What the contact guard found in a message: a phone number, a bank account, a KakaoTalk id, an open-chat link, a payment link, an e-mail or a messenger id. */
export type ContactKind = 'phone' | 'bank_account' | 'kakao_id' | 'open_chat' | 'payment_link' | 'email' | 'messenger_id'
/** A webhook event the server gave up on. */
export type DeadLetter = z.output<typeof deadLetterSchema>
/** RFC 9457 problem details, as every REST refusal (and refused handshake) carries them. */
export type Problem = z.output<typeof problemSchema>

/** `POST /chat/v1/create-room/`. */
export type CreateRoomInput = Input<ReturnType<typeof createRoomBodySchema>>
/** `POST /chat/v1/direct-room/`. */
export type DirectRoomInput = Input<ReturnType<typeof directRoomBodySchema>>
/** `PATCH /chat/v1/room/{id}/`: its name, data or status (at least one). */
export type UpdateRoomInput = Input<ReturnType<typeof updateRoomBodySchema>>
/** `POST /chat/v1/posts/{post_id}/messages/`: the system message, and the status of every room about the post. */
export type PostEventInput = Input<ReturnType<typeof postEventBodySchema>>
/** `POST /chat/v1/message/`. */
export type SendMessageInput = Input<ReturnType<typeof sendMessageBodySchema>>
/** `PATCH /chat/v1/room/{room_id}/messages/{message_id}/`: the new text. */
export type EditMessageInput = Input<ReturnType<typeof editMessageBodySchema>>
/** `POST /chat/v1/report/`: a message, a user, or both. */
export type ReportInput = Input<typeof reportBodySchema>
/** `GET /chat/v1/rooms/` paging. */
export type RoomsQuery = Input<typeof listRoomsQuerySchema>
/** `GET /chat/v1/room/{id}/messages/` paging: at most one of `before` and `after`. */
export type HistoryQuery = Input<typeof historyQuerySchema>
/** `GET /chat/v1/room/{id}/changes/`: after which version, and how many messages at most. */
export type ChangesQuery = Input<typeof changesQuerySchema>
/** `GET /chat/v1/inbox/` paging. */
export type InboxQuery = Input<typeof inboxQuerySchema>
/** Paging of the service call that lists dead webhook events. */
export type AdminPageQuery = Input<typeof adminPageSchema>
/** `GET /chat/v1/admin/reports/`: which reports (`status`), paged with `after`. */
export type ReportQuery = Input<typeof reportQuerySchema>

// ---- WebSocket frames ----

/** Every frame a client may send on a room socket. */
export type RoomClientFrame = z.input<typeof clientFrameSchema>
/** Every frame the server sends on a room socket. */
export type RoomServerFrame = FrameUnion<typeof serverFrameSchemas>
/** `chat.message`: a stored message, to every socket of the room (the sender's too). */
export type MessageFrame = z.output<typeof serverFrameSchemas.message>
/** `chat.message.updated`: a message was edited (or, in a `since_version=` replay, changed while away); its latest form. */
export type MessageUpdatedFrame = z.output<typeof serverFrameSchemas.messageUpdated>
/** `chat.message.deleted`: a message was unsent, for everyone. */
export type MessageDeletedFrame = z.output<typeof serverFrameSchemas.messageDeleted>
/** `chat.reaction`: a user added (`added: true`) or took back a reaction. */
export type ReactionFrame = z.output<typeof serverFrameSchemas.reaction>
/** `chat.user.join` / `chat.user.leave`: a user's first socket in the room opened, or their last closed. */
export type PresenceFrame = z.output<typeof serverFrameSchemas.join> | z.output<typeof serverFrameSchemas.leave>
/** `chat.typing`: another user is typing. */
export type TypingFrame = z.output<typeof serverFrameSchemas.typing>
/** `chat.read`: a user's read marker moved. */
export type ReadFrame = z.output<typeof serverFrameSchemas.read>
/** `chat.member.added` / `chat.member.removed`. */
export type MemberFrame = z.output<typeof serverFrameSchemas.memberAdded> | z.output<typeof serverFrameSchemas.memberRemoved>
/** `chat.room.updated`: the room's name, data or status changed. */
export type RoomUpdatedFrame = z.output<typeof serverFrameSchemas.roomUpdated>
/** `chat.recovered`: the replay asked for with `since=` or `since_version=` is over (`reset`: the database was replaced; `version`: where a `since_version=` replay brought the client). */
export type RecoveredFrame = z.output<typeof serverFrameSchemas.recovered>
/**
 * `chat.notice` `contact_shared`: the message just heard shares contact details or an outside
 * payment (the server's CONTACT_GUARD=warn); to every socket of the room but its sender's, live only.
 */
export type NoticeFrame = z.output<typeof serverFrameSchemas.notice>
/** `chat.error`: a frame the server would not take; the socket stays open (`retry_after`: seconds, with `slow_mode` and a `muted` that ends). */
export type ChatErrorFrame = z.output<typeof serverFrameSchemas.error>
/** Why the server refused a frame. */
export type ChatErrorCode = ChatErrorFrame['code']

/** Every frame of the user stream `WS /ws/chat/inbox/`. */
export type InboxServerFrame = FrameUnion<typeof inboxFrameSchemas> | ChatErrorFrame
/** `inbox.ready`: the stream is live, with the badge as it stands. */
export type InboxReadyFrame = z.output<typeof inboxFrameSchemas.ready>
/** `inbox.message`: a new message in one of the user's rooms, with that room's unread count after it. */
export type InboxMessageFrame = z.output<typeof inboxFrameSchemas.message>
/** `inbox.read`: the user's own marker moved, on any device. */
export type InboxReadFrame = z.output<typeof inboxFrameSchemas.read>
/** `inbox.room`: the user gained a room. */
export type InboxRoomFrame = z.output<typeof inboxFrameSchemas.room>
/** `inbox.removed`: the user lost a room. */
export type InboxRemovedFrame = z.output<typeof inboxFrameSchemas.removed>
