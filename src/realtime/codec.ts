import { z } from 'zod'
import type { MadeChange } from '../store/messages.ts'
import type { MessageRow, ReactionSum, ReplyQuote } from '../store/store.ts'
import type { StoredAttachment } from '../store/uploads.ts'
import { characterCount, isCleanToken, isOneEmoji, textProblem } from '../text.ts'

/** How much of the answered message a reply quotes. */
const QUOTE_CHARACTERS = 100

const replyToSchema = z
  .object({
    id: z.number().int(),
    user_id: z.string(),
    nickname: z.string(),
    message: z.string().describe(`Its text, cut to ${QUOTE_CHARACTERS} characters; "" once it is unsent`),
  })
  .describe('The message this one answers')

const reactionSchema = z.object({
  emoji: z.string(),
  count: z.number().int().describe('How many reacted with it'),
  user_ids: z.array(z.string()).describe('The first 10 who did, in order'),
})

/** A file or photo sent with a message (POST /chat/v1/uploads/ answers with the same shape). */
export const attachmentSchema = z.object({
  id: z.string(),
  kind: z.enum(['image', 'file']).describe('image: a JPEG, PNG, WebP or GIF photo (its metadata stripped); file: anything else allowed'),
  content_type: z.string().describe('Judged from the bytes, not from what the uploader said'),
  size: z.number().int().describe('Bytes, as stored (a photo after its metadata was stripped)'),
  name: z.string(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  url: z.string().describe('Signed; works without headers until it expires (FILE_URL_TTL_SECONDS): read the message again for a fresh one'),
  thumbnail_url: z.string().nullable().describe('A photo at most 320 px on its longer side (signed like url), or null'),
})
export type AttachmentDto = z.infer<typeof attachmentSchema>

/** Makes the signed URLs of a stored attachment (see modules/uploads/files.ts). */
export type AttachmentLinks = (attachment: StoredAttachment) => AttachmentDto

/** A message's kind from its attachments: image when each is a photo, file when any is not. */
const kindOf = (attachments: readonly StoredAttachment[]): MessageDto['kind'] => (attachments.length === 0 ? 'text' : attachments.every((a) => a.kind === 'image') ? 'image' : 'file')

/** The message as REST returns it and as it travels inside `chat.message`. */
export const messageSchema = z.object({
  id: z.number().int().describe('Ascends in the order every client sees'),
  room: z.number().int(),
  user_id: z.string().nullable().describe('The sender; null for a system message (the app speaking in the room)'),
  sender: z.string().describe('The sender e-mail, as in the original server ("" for a system message)'),
  nickname: z.string().describe('"" for a system message'),
  profile_picture_url: z.string().nullable(),
  message: z.string().describe('The text ("" once unsent)'),
  created_at: z.string().describe('ISO 8601, UTC'),
  client_msg_id: z.string().nullable(),
  kind: z.enum(['text', 'system', 'image', 'file']),
  edited_at: z.string().nullable().describe('When its author last edited it (ISO 8601), or null'),
  deleted: z.boolean().describe('Unsent: no text, no attachments, no reactions'),
  reply_to: replyToSchema.nullable(),
  reactions: z.array(reactionSchema),
  attachments: z.array(attachmentSchema),
  data: z.record(z.string(), z.unknown()).nullable().describe('A system message\'s data (the app\'s own, such as {"event": "sold"}; {"event": "left", "user_id"} when the other member left a direct room)'),
  silent: z.boolean().optional().describe('Present and true on a system message that does not count as unread'),
  version: z.number().int().describe("The room's version this message's latest change made"),
})
export type MessageDto = z.infer<typeof messageSchema>

/** The fields a `chat.message` frame leaves out while they hold their defaults (a plain new message: all of them). */
const FRAME_DEFAULTS = { kind: 'text', edited_at: null, deleted: false, reply_to: null, reactions: [], attachments: [], data: null } as const satisfies Partial<MessageDto>

/**
 * The message as `chat.message` frames carry it: as REST gives it, less the fields that hold their
 * defaults (`kind` "text", `edited_at` null, `deleted` false, `reply_to` null, `reactions` [],
 * `attachments` [], `data` null), which a client reads as those defaults. Every delivery of a plain
 * message is a third smaller for it (a frame is sent once per socket of the room).
 */
const messageFrameFields = messageSchema.partial({ kind: true, edited_at: true, deleted: true, reply_to: true, reactions: true, attachments: true, data: true })

/** A `chat.message` frame's message with the fields it left out at their defaults: the message as REST gives it. */
export const withFrameDefaults = (frame: z.infer<typeof messageFrameFields>): MessageDto => ({ ...FRAME_DEFAULTS, reactions: [], attachments: [], ...frame })

/** Cuts a quoted text to QUOTE_CHARACTERS characters (whole code points). */
function quote(text: string): string {
  if (text.length <= QUOTE_CHARACTERS) return text
  return Array.from(text).slice(0, QUOTE_CHARACTERS).join('')
}

const toReplyDto = (q: ReplyQuote) => ({ id: q.id, user_id: q.userId, nickname: q.nickname, message: q.deleted ? '' : quote(q.body) })

const toReactionDto = (r: ReactionSum) => ({ emoji: r.emoji, count: r.count, user_ids: r.userIds })

/** Maps a stored row to its wire shape; `links` signs its attachments' URLs. */
export function toMessageDto(row: MessageRow, links: AttachmentLinks): MessageDto {
  return {
    id: row.id,
    room: row.roomId,
    user_id: row.system ? null : row.userId,
    sender: row.email,
    nickname: row.nickname,
    profile_picture_url: row.profileUrl,
    message: row.body,
    created_at: new Date(row.createdAt).toISOString(),
    client_msg_id: row.clientMsgId,
    kind: row.system ? 'system' : kindOf(row.attachments),
    edited_at: row.editedAt === null ? null : new Date(row.editedAt).toISOString(),
    deleted: row.deleted,
    reply_to: row.replyTo === null ? null : toReplyDto(row.replyTo),
    reactions: row.reactions.map(toReactionDto),
    attachments: row.attachments.map(links),
    data: row.data,
    ...(row.silent ? { silent: true } : {}),
    version: row.version,
  }
}

/** A client-chosen message id: a repeat from the same user in the same room is stored once. */
export const clientMsgIdSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(isCleanToken, { message: 'must not contain control characters or lone surrogates' })
  .describe('Client-chosen id; a repeat from the same user in the same room is stored once')

/** A message's id, as frames and paths name it. */
const messageIdSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)

/** Most uploads one message carries. */
export const MAX_ATTACHMENTS = 10

/** An upload's id, as POST /chat/v1/uploads/ gave it. */
const uploadIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'must be an upload id')

/** The uploads a message is sent with: 1 to MAX_ATTACHMENTS, each once. */
export const attachmentIdsSchema = z
  .array(uploadIdSchema)
  .min(1)
  .max(MAX_ATTACHMENTS)
  .refine((ids) => new Set(ids).size === ids.length, 'must not name an upload twice')

/** One emoji grapheme (`👍`, `❤️`, `👍🏽`, `🇰🇷`): a reaction. */
const emojiSchema = z.string().refine(isOneEmoji, { message: 'must be one emoji' })

/** Client-to-server frames. `message` length is checked separately against MAX_MESSAGE_LENGTH. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('chat.message'),
    message: z.string(),
    client_msg_id: clientMsgIdSchema.optional(),
    reply_to: messageIdSchema.optional().describe('The id of the message (of this room) it answers'),
    attachments: attachmentIdsSchema.optional().describe('Uploads (POST /chat/v1/uploads/) to send with it; the text may then be empty'),
  }),
  z.object({ type: z.literal('chat.edit'), id: messageIdSchema, message: z.string() }),
  z.object({ type: z.literal('chat.delete'), id: messageIdSchema }),
  z.object({ type: z.literal('chat.react'), id: messageIdSchema, emoji: emojiSchema, add: z.boolean() }),
  z.object({ type: z.literal('chat.typing') }),
  z.object({
    type: z.literal('chat.read'),
    last_read_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('The newest message id read; clamped to the newest in the room, never moves back'),
  }),
])
type ClientFrame = z.infer<typeof clientFrameSchema>

/** Why a frame was refused; sent as `chat.error`'s `code`. */
const chatErrorCodes = [
  'invalid_json',
  'missing_type',
  'unknown_type',
  'invalid_field',
  'message_empty',
  'message_too_long',
  'message_invalid',
  'binary_not_supported',
  'store_failed',
  'storage_full',
  'storage_read_only',
  'storage_damaged',
  'unavailable',
  'rate_limited',
  'blocked',
  'message_not_found',
  'not_author',
  'edit_window_closed',
  'unsend_window_closed',
  'deleted',
  'too_many_reactions',
  'reply_to_other_room',
  'upload_not_found',
  'upload_expired',
  'upload_already_attached',
  'room_archived',
  'peer_left',
  'muted',
  'banned',
  'slow_mode',
  'filtered',
] as const
export type ChatErrorCode = (typeof chatErrorCodes)[number]

/** True for a code a `chat.error` may carry (a REST refusal that sockets report as is). */
export const isChatErrorCode = (code: string): code is ChatErrorCode => (chatErrorCodes as readonly string[]).includes(code)

/** Server-to-client frames. */
export const serverFrameSchemas = {
  message: messageFrameFields
    .extend({ type: z.literal('chat.message') })
    .describe('A message; fields at their defaults (kind "text", edited_at null, deleted false, reply_to null, reactions [], attachments [], data null) are left out'),
  messageUpdated: z.object({ type: z.literal('chat.message.updated'), message: messageSchema, version: z.number().int() }),
  roomUpdated: z
    .object({ type: z.literal('chat.room.updated'), room: z.record(z.string(), z.unknown()).describe("The room's summary as the change left it (as a service call sees it: `peer` null)"), version: z.number().int() })
    .describe("The room's name, data or status changed (PATCH, a post event): in the room's version order"),
  messageDeleted: z.object({ type: z.literal('chat.message.deleted'), id: z.number().int(), room: z.number().int(), version: z.number().int() }),
  reaction: z.object({ type: z.literal('chat.reaction'), id: z.number().int(), emoji: z.string(), user_id: z.string(), added: z.boolean(), version: z.number().int() }),
  join: z.object({ type: z.literal('chat.user.join'), username: z.string(), user_id: z.string() }),
  leave: z.object({ type: z.literal('chat.user.leave'), username: z.string(), user_id: z.string() }),
  memberAdded: z.object({ type: z.literal('chat.member.added'), user_id: z.string() }),
  memberRemoved: z.object({ type: z.literal('chat.member.removed'), user_id: z.string() }),
  typing: z.object({ type: z.literal('chat.typing'), user_id: z.string(), nickname: z.string() }),
  read: z.object({ type: z.literal('chat.read'), user_id: z.string(), last_read_id: z.number().int() }),
  error: z.object({
    type: z.literal('chat.error'),
    code: z.enum(chatErrorCodes),
    message: z.string(),
    retry_after: z.number().int().optional().describe('With `slow_mode` (and `muted` with an end): seconds until a message may go'),
  }),
  notice: z
    .object({
      type: z.literal('chat.notice'),
      code: z.literal('contact_shared'),
      message_id: z.number().int(),
      kinds: z.array(z.string()).describe('What the contact guard found: phone, bank_account, kakao_id, open_chat, payment_link, email, messenger_id'),
    })
    .describe("A message just heard shares contact details or an outside payment (CONTACT_GUARD=warn): to every socket of the room but its sender's, right after the message; show a warning under it"),
  recovered: z.object({
    type: z.literal('chat.recovered'),
    count: z.number().int().describe('Messages (since=) or changed messages (since_version=) replayed'),
    truncated: z.boolean().describe('More were missed than RECOVERY_LIMIT; page the rest over REST with before= (or reload the room)'),
    version: z.number().int().optional().describe("With since_version=: the room's version the replay brought the client to"),
    epoch: z.string().describe('The storage epoch: give it back as epoch= beside since= when reconnecting'),
    reset: z.boolean().optional().describe('Present and true when epoch= named another epoch (the database was replaced): nothing was replayed; drop what you hold and reload the room'),
  }),
}

/**
 * Encodes a stored message as the `chat.message` frame: the seed's five fields first, then the
 * rest, less the fields that hold their defaults (see `messageFrameFields`).
 */
export function encodeMessageFrame(row: MessageRow, links: AttachmentLinks): string {
  const dto = toMessageDto(row, links)
  const frame: Record<string, unknown> = {
    type: 'chat.message',
    message: dto.message,
    sender: dto.sender,
    nickname: dto.nickname,
    profile_picture_url: dto.profile_picture_url,
    id: dto.id,
    room: dto.room,
    user_id: dto.user_id,
    created_at: dto.created_at,
    client_msg_id: dto.client_msg_id,
    version: dto.version,
  }
  if (dto.edited_at !== null) frame.edited_at = dto.edited_at
  if (dto.deleted) frame.deleted = true
  if (dto.reply_to !== null) frame.reply_to = dto.reply_to
  if (dto.reactions.length > 0) frame.reactions = dto.reactions
  if (dto.attachments.length > 0) {
    frame.kind = dto.kind
    frame.attachments = dto.attachments
  }
  if (row.system) {
    frame.kind = 'system'
    if (dto.data !== null) frame.data = dto.data
    if (dto.silent) frame.silent = true
  }
  return JSON.stringify(frame)
}

/** The frame the room hears of a change of a message: its new form, its unsend, or a reaction. */
export function encodeChangeFrame(row: MessageRow, change: MadeChange, links: AttachmentLinks): string {
  switch (change.type) {
    case 'edited':
      return JSON.stringify({ type: 'chat.message.updated', message: toMessageDto(row, links), version: row.version })
    case 'deleted':
      return JSON.stringify({ type: 'chat.message.deleted', id: row.id, room: row.roomId, version: row.version })
    case 'reaction':
      return JSON.stringify({ type: 'chat.reaction', id: row.id, emoji: change.emoji, user_id: change.userId, added: change.added, version: row.version })
  }
}

/** The frame for a message's latest form (a `since_version=` replay): new to the client, or changed since it had it. */
export function encodeLatestFrame(row: MessageRow, clientHad: boolean, links: AttachmentLinks): string {
  if (!clientHad) return encodeMessageFrame(row, links)
  return encodeChangeFrame(row, { type: row.deleted ? 'deleted' : 'edited' }, links)
}

/** The room's name, data or status changed: its summary as the change left it, at the version it made. */
export const encodeRoomUpdatedFrame = (room: Record<string, unknown>, version: number) => JSON.stringify({ type: 'chat.room.updated', room, version })

export const encodeReadFrame = (userId: string, lastReadId: number) => JSON.stringify({ type: 'chat.read', user_id: userId, last_read_id: lastReadId })

export const encodeMemberFrame = (type: 'chat.member.added' | 'chat.member.removed', userId: string) => JSON.stringify({ type, user_id: userId })

export const encodePresenceFrame = (type: 'chat.user.join' | 'chat.user.leave', userId: string, nickname: string) => JSON.stringify({ type, username: nickname, user_id: userId })

export const encodeTypingFrame = (userId: string, nickname: string) => JSON.stringify({ type: 'chat.typing', user_id: userId, nickname })

export const encodeErrorFrame = (code: ChatErrorCode, message: string, retryAfterSeconds?: number) =>
  JSON.stringify(retryAfterSeconds === undefined ? { type: 'chat.error', code, message } : { type: 'chat.error', code, message, retry_after: retryAfterSeconds })

export const encodeNoticeFrame = (messageId: number, kinds: readonly string[]) => JSON.stringify({ type: 'chat.notice', code: 'contact_shared', message_id: messageId, kinds })

export const encodeRecoveredFrame = (count: number, truncated: boolean, epoch: string, version?: number) =>
  JSON.stringify(version === undefined ? { type: 'chat.recovered', count, truncated, epoch } : { type: 'chat.recovered', count, truncated, epoch, version })

/** Tells a client its since= belongs to a storage epoch that is gone: nothing replayed, reload. */
export const encodeResetFrame = (epoch: string) => JSON.stringify({ type: 'chat.recovered', count: 0, truncated: false, epoch, reset: true })

/** Close codes and when the server uses them. */
export const CloseCode = {
  /** Server shutting down: reconnect with since=. */
  goingAway: 1001,
  /** Repeated abuse. */
  policy: 1008,
  /** Frame larger than MAX_PAYLOAD_BYTES. */
  tooLarge: 1009,
  /** Could not keep up: reconnect with since=. */
  tryAgainLater: 1013,
  /** Removed from the room: do not reconnect. */
  removed: 4403,
} as const

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; code: ChatErrorCode; message: string }

const TYPING_FRAME: ClientFrame = { type: 'chat.typing' }

/**
 * Checks a parsed frame. The schema of record is `clientFrameSchema`; well-formed frames take a
 * hand-written path that accepts exactly what the schema accepts (a property test holds the two
 * together), and only frames it would refuse go through zod, for its error messages.
 * Then the length and emptiness rules apply.
 */
export function parseClientFrame(data: unknown, maxLength: number): ParsedFrame {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const frame = data as { type?: unknown; message?: unknown; client_msg_id?: unknown; reply_to?: unknown }
    if (frame.type === 'chat.message' && typeof frame.message === 'string' && frame.reply_to === undefined && (frame as { attachments?: unknown }).attachments === undefined) {
      const id = frame.client_msg_id
      if (id === undefined) return checkText({ type: 'chat.message', message: frame.message }, maxLength)
      if (typeof id === 'string' && id.length >= 1 && id.length <= 64 && isCleanToken(id)) return checkText({ type: 'chat.message', message: frame.message, client_msg_id: id }, maxLength)
    } else if (frame.type === 'chat.typing') {
      return { ok: true, frame: TYPING_FRAME }
    }
  }
  return parseWithSchema(data, maxLength)
}

function checkText(frame: ClientFrame & { type: 'chat.message' }, maxLength: number): ParsedFrame {
  const problem = textProblem(frame.message)
  // With files, a message may have no text (a photo alone).
  if (problem && !(frame.message === '' && frame.attachments !== undefined)) return { ok: false, code: problem.kind === 'empty' ? 'message_empty' : 'message_invalid', message: `message ${problem.message}` }
  if (frame.message.length > maxLength && characterCount(frame.message) > maxLength) {
    return { ok: false, code: 'message_too_long', message: `message is longer than ${maxLength} characters` }
  }
  return { ok: true, frame }
}

/** The slow path: zod decides, and says what is wrong. */
export function parseWithSchema(data: unknown, maxLength: number): ParsedFrame {
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    return { ok: false, code: 'binary_not_supported', message: 'binary frames are not supported; send JSON text' }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'invalid_json', message: 'frame must be a JSON object' }
  }
  const type = (data as { type?: unknown }).type
  if (type === undefined) return { ok: false, code: 'missing_type', message: 'frame has no "type"' }
  if (typeof type !== 'string' || !CLIENT_FRAME_TYPES.includes(type)) {
    return { ok: false, code: 'unknown_type', message: `unknown type ${JSON.stringify(type)}; expected one of ${CLIENT_FRAME_TYPES.map((t) => `"${t}"`).join(', ')}` }
  }
  const result = clientFrameSchema.safeParse(data)
  if (!result.success) {
    const issue = result.error.issues[0]
    const path = issue?.path.join('.') || 'frame'
    return { ok: false, code: 'invalid_field', message: `${path}: ${issue?.message ?? 'invalid'}` }
  }
  const frame = result.data
  if (frame.type === 'chat.message') return checkText(frame, maxLength)
  if (frame.type === 'chat.edit') {
    const checked = checkText({ type: 'chat.message', message: frame.message }, maxLength)
    return checked.ok ? { ok: true, frame } : checked
  }
  return { ok: true, frame }
}

const CLIENT_FRAME_TYPES: readonly string[] = clientFrameSchema.options.map((o) => o.shape.type.value)
