import { z } from 'zod'
import type { MessageRow } from '../store/store.ts'
import { characterCount, isCleanToken, textProblem } from '../text.ts'

/** The message as REST returns it and as it travels inside `chat.message`. */
export const messageSchema = z.object({
  id: z.number().int().describe('Ascends in the order every client sees'),
  room: z.number().int(),
  user_id: z.string(),
  sender: z.string().describe('The sender e-mail, as in the original server'),
  nickname: z.string(),
  profile_picture_url: z.string().nullable(),
  message: z.string(),
  created_at: z.string().describe('ISO 8601, UTC'),
  client_msg_id: z.string().nullable(),
})
export type MessageDto = z.infer<typeof messageSchema>

/** Maps a stored row to its wire shape. */
export function toMessageDto(row: MessageRow): MessageDto {
  return {
    id: row.id,
    room: row.roomId,
    user_id: row.userId,
    sender: row.email,
    nickname: row.nickname,
    profile_picture_url: row.profileUrl,
    message: row.body,
    created_at: new Date(row.createdAt).toISOString(),
    client_msg_id: row.clientMsgId,
  }
}

/** A client-chosen message id: a repeat from the same user in the same room is stored once. */
export const clientMsgIdSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(isCleanToken, { message: 'must not contain control characters or lone surrogates' })
  .describe('Client-chosen id; a repeat from the same user in the same room is stored once')

/** Client-to-server frames. `message` length is checked separately against MAX_MESSAGE_LENGTH. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('chat.message'),
    message: z.string(),
    client_msg_id: clientMsgIdSchema.optional(),
  }),
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
] as const
export type ChatErrorCode = (typeof chatErrorCodes)[number]

/** Server-to-client frames. */
export const serverFrameSchemas = {
  message: messageSchema.extend({ type: z.literal('chat.message') }),
  join: z.object({ type: z.literal('chat.user.join'), username: z.string(), user_id: z.string() }),
  leave: z.object({ type: z.literal('chat.user.leave'), username: z.string(), user_id: z.string() }),
  memberAdded: z.object({ type: z.literal('chat.member.added'), user_id: z.string() }),
  memberRemoved: z.object({ type: z.literal('chat.member.removed'), user_id: z.string() }),
  typing: z.object({ type: z.literal('chat.typing'), user_id: z.string(), nickname: z.string() }),
  read: z.object({ type: z.literal('chat.read'), user_id: z.string(), last_read_id: z.number().int() }),
  error: z.object({ type: z.literal('chat.error'), code: z.enum(chatErrorCodes), message: z.string() }),
  recovered: z.object({
    type: z.literal('chat.recovered'),
    count: z.number().int().describe('Messages replayed after since='),
    truncated: z.boolean().describe('More were missed than RECOVERY_LIMIT; page the rest over REST with before='),
    epoch: z.string().describe('The storage epoch: give it back as epoch= beside since= when reconnecting'),
    reset: z.boolean().optional().describe('Present and true when epoch= named another epoch (the database was replaced): nothing was replayed; drop what you hold and reload the room'),
  }),
}

/** Encodes a stored message as the `chat.message` frame; the seed's five fields come first. */
export function encodeMessageFrame(row: MessageRow): string {
  const dto = toMessageDto(row)
  return JSON.stringify({
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
  })
}

export const encodeReadFrame = (userId: string, lastReadId: number) => JSON.stringify({ type: 'chat.read', user_id: userId, last_read_id: lastReadId })

export const encodeMemberFrame = (type: 'chat.member.added' | 'chat.member.removed', userId: string) => JSON.stringify({ type, user_id: userId })

export const encodePresenceFrame = (type: 'chat.user.join' | 'chat.user.leave', userId: string, nickname: string) => JSON.stringify({ type, username: nickname, user_id: userId })

export const encodeTypingFrame = (userId: string, nickname: string) => JSON.stringify({ type: 'chat.typing', user_id: userId, nickname })

export const encodeErrorFrame = (code: ChatErrorCode, message: string) => JSON.stringify({ type: 'chat.error', code, message })

export const encodeRecoveredFrame = (count: number, truncated: boolean, epoch: string) => JSON.stringify({ type: 'chat.recovered', count, truncated, epoch })

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
    const frame = data as { type?: unknown; message?: unknown; client_msg_id?: unknown }
    if (frame.type === 'chat.message' && typeof frame.message === 'string') {
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
  if (problem) return { ok: false, code: problem.kind === 'empty' ? 'message_empty' : 'message_invalid', message: `message ${problem.message}` }
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
  if (type !== 'chat.message' && type !== 'chat.typing' && type !== 'chat.read') {
    return { ok: false, code: 'unknown_type', message: `unknown type ${JSON.stringify(type)}; expected "chat.message", "chat.typing" or "chat.read"` }
  }
  const result = clientFrameSchema.safeParse(data)
  if (!result.success) {
    const issue = result.error.issues[0]
    const path = issue?.path.join('.') || 'frame'
    return { ok: false, code: 'invalid_field', message: `${path}: ${issue?.message ?? 'invalid'}` }
  }
  const frame = result.data
  return frame.type === 'chat.message' ? checkText(frame, maxLength) : { ok: true, frame }
}
