import { Elysia } from 'elysia'
import { z } from 'zod'
import { exampleChangedMessage, exampleMessage } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { tooMany, unprocessable } from '../../errors.ts'
import { requireIdentity, requireService, type Callers, type IdentifiedCaller } from '../../caller.ts'
import type { Metrics } from '../../metrics.ts'
import { messageSchema, toMessageDto, type AttachmentLinks } from '../../realtime/codec.ts'
import type { MessageRow } from '../../store/store.ts'
import { oneCursor, parsePathId, parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { changesQuerySchema, changesSchema, editMessageBodySchema, historyQuerySchema, messageHistorySchema, messageParamsSchema, reactionParamsSchema, sendMessageBodySchema } from './model.ts'
import { isOneEmoji } from '../../text.ts'
import type { RateLimiter } from '../../realtime/rate-limits.ts'
import type { MessageService } from './service.ts'

/** Parses a message id from a path segment; 404 `message_not_found` when it cannot name a message. */
const parseMessageId = (raw: string): number => parsePathId(raw, 'message')

/** The emoji of a reaction's path (Elysia hands it decoded); 422 unless it is one emoji. */
function parseEmoji(raw: string): string {
  if (!isOneEmoji(raw)) throw unprocessable('A reaction is one emoji.', [{ path: 'emoji', message: 'must be one emoji' }])
  return raw
}

/** What every change of a message may answer besides its success. */
const changeRefusals = {
  401: { description: 'No identity: X-User-Id is missing', problem: { code: 'identity_required' } },
  403: { description: 'Not a member of this private or direct room (`not_a_member`), a blocked direct room (`blocked`), or not the author (`not_author`)', problem: { code: 'not_a_member' } },
  404: { description: 'No such room (`room_not_found`) or no such message in it (`message_not_found`)', problem: { code: 'message_not_found' } },
  429: { description: 'This user is sending too fast (the Retry-After header says how long to wait)', problem: { code: 'rate_limited' } },
  503: { description: 'Storage or live delivery is unavailable for a moment; nothing was changed', problem: { code: 'storage_unavailable' } },
} as const

/** `/chat/v1/room/{room_id}/messages/`, `/chat/v1/message/`, a message's changes and reactions, a room's changes, a message's kept texts. */
export const messageRoutes = (messages: MessageService, callers: Callers, maxMessageLength: number, maxDataBytes: number, metrics: Metrics, limiter: RateLimiter, links: AttachmentLinks) => {
  const dto = (row: MessageRow) => toMessageDto(row, links)
  const receivedOverRest = metrics.messagesReceived.labels('rest')
  /** A change counts against the same allowance as messages. */
  const limited = (sender: IdentifiedCaller) => {
    const wait = limiter.restMessage(sender.identity.userId)
    if (wait > 0) throw tooMany('rate_limited', 'Too many messages and changes from this user; wait and try again.', wait)
  }
  return (
    new Elysia({ name: 'messages', prefix: '/chat/v1' })
      .get(
        '/room/:room_id/messages/',
        async ({ params, query, request }) => {
          const rows = await messages.page(parseRoomId(params.room_id), oneCursor(query), callers(request.headers))
          return rows.map(dto)
        },
        {
          params: roomParamsSchema,
          query: historyQuerySchema,
          detail: {
            summary: 'Message history',
            description: 'Ascending by id: the newest `limit`, or the newest below `before`, or the oldest above `after`. Give at most one of `before` and `after`.',
            tags: ['messages'],
            security: security.anyone,
            responses: responses({
              200: { description: 'Messages, ascending id', schema: z.array(messageSchema), example: [exampleMessage] },
              400: { description: 'A query value is invalid', problem: { code: 'invalid_query' } },
              401: { description: 'A private or direct room, and no identity', problem: { code: 'identity_required' } },
              403: { description: 'A private or direct room the caller is not a member of (service calls read any room)', problem: { code: 'not_a_member' } },
              404: { description: 'No such room', problem: { code: 'room_not_found' } },
            }),
          },
        },
      )
      .get(
        '/room/:room_id/changes/',
        ({ params, query, request }) =>
          messages.changes(parseRoomId(params.room_id), query.after_version, query.limit, callers(request.headers)).then(({ version, messages: changed, truncated }) => ({ version, changes: changed.map(dto), truncated })),
        {
          params: roomParamsSchema,
          query: changesQuerySchema,
          detail: {
            summary: "A room's changes after a version",
            description:
              'The latest form of each message created, edited, unsent or reacted to after `after_version`, in version order: a client that was away applies them and holds exactly what the server holds. Ask again from the `version` answered.',
            tags: ['messages'],
            security: security.anyone,
            responses: responses({
              200: { description: 'What changed', schema: changesSchema, example: { version: 1035, changes: [exampleChangedMessage], truncated: false } },
              400: { description: 'A query value is invalid', problem: { code: 'invalid_query' } },
              401: { description: 'A private or direct room, and no identity', problem: { code: 'identity_required' } },
              403: { description: 'A private or direct room the caller is not a member of', problem: { code: 'not_a_member' } },
              404: { description: 'No such room', problem: { code: 'room_not_found' } },
            }),
          },
        },
      )
      .get(
        '/admin/messages/:message_id/history/',
        async ({ params, request }) => {
          requireService(callers(request.headers), "reading a message's earlier texts")
          const entries = await messages.history(parseMessageId(params.message_id))
          return entries.map((e) => ({ message: e.body, at: new Date(e.at).toISOString(), action: e.action, by: e.by }))
        },
        {
          params: z.object({ message_id: z.string().describe('Message id') }),
          detail: {
            summary: "A message's texts (service call)",
            description: 'Every text the message had: as sent, each edit, and the text it had when unsent, oldest first. Kept for DELETED_RETENTION_DAYS after its last change, then purged.',
            tags: ['messages'],
            security: security.service,
            responses: responses({
              200: {
                description: 'Its texts',
                schema: messageHistorySchema,
                example: [
                  { message: '내일 3시에 봬요', at: '2026-11-30T09:16:00.000Z', action: 'created', by: '43' },
                  { message: '네, 내일 오후 3시에 뵐게요.', at: '2026-11-30T09:17:30.000Z', action: 'edited', by: '43' },
                ],
              },
              403: { description: 'Not a service call', problem: { code: 'service_call_required' } },
              404: { description: 'No such message', problem: { code: 'message_not_found' } },
            }),
          },
        },
      )
      // Derived before body validation, so a request without identity is 401 whatever its body; the
      // app's backend alone may come without one (a system message speaks for no user).
      .derive(({ request }) => {
        const caller = callers(request.headers)
        return { caller, sender: caller.service && caller.identity === null ? null : requireIdentity(caller) }
      })
      .patch(
        '/room/:room_id/messages/:message_id/',
        async ({ params, body, caller }) => {
          const sender = requireIdentity(caller)
          limited(sender)
          const { message } = await messages.change(sender, parseRoomId(params.room_id), parseMessageId(params.message_id), { type: 'edit', body: body.message })
          return dto(message)
        },
        {
          params: messageParamsSchema,
          body: editMessageBodySchema(maxMessageLength),
          detail: {
            summary: 'Edit a message',
            description: 'Its author, within EDIT_WINDOW_SECONDS of sending it, while they may send in the room. The room hears `chat.message.updated`; the original text is kept for service calls.',
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({
              200: { description: 'The message as edited', schema: messageSchema, example: exampleChangedMessage },
              ...changeRefusals,
              409: { description: 'Too old to edit (`edit_window_closed`), or unsent (`deleted`)', problem: { code: 'edit_window_closed' } },
              422: { description: 'The text is invalid', problem: { code: 'validation_failed', example: { errors: [{ path: 'message', message: 'must not be empty' }] } } },
            }),
          },
        },
      )
      .delete(
        '/room/:room_id/messages/:message_id/',
        async ({ params, caller, set }) => {
          const sender = requireIdentity(caller)
          limited(sender)
          await messages.change(sender, parseRoomId(params.room_id), parseMessageId(params.message_id), { type: 'unsend' })
          set.status = 204
        },
        {
          params: messageParamsSchema,
          detail: {
            summary: 'Unsend a message',
            description:
              "For everyone: its author within UNSEND_WINDOW_SECONDS; a private room's owner, the room's moderators or the app's backend at any time. Reads then show it with `deleted: true` and no text; unread counts forget it; the room hears `chat.message.deleted`. Unsending it again answers 204 too.",
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({ 204: { description: 'Unsent', empty: true }, ...changeRefusals, 409: { description: 'Too old to unsend', problem: { code: 'unsend_window_closed' } } }),
          },
        },
      )
      .put(
        '/room/:room_id/messages/:message_id/reactions/:emoji/',
        async ({ params, caller, set }) => {
          const sender = requireIdentity(caller)
          limited(sender)
          await messages.change(sender, parseRoomId(params.room_id), parseMessageId(params.message_id), { type: 'react', emoji: parseEmoji(params.emoji), add: true })
          set.status = 204
        },
        {
          params: reactionParamsSchema,
          detail: {
            summary: 'React to a message',
            description: "Adds the caller's reaction (one emoji). Doing it again changes nothing and answers 204 too. The room hears `chat.reaction`.",
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({
              204: { description: 'Reacted', empty: true },
              ...changeRefusals,
              409: { description: 'The message was unsent (`deleted`), or has 20 different reactions already (`too_many_reactions`)', problem: { code: 'too_many_reactions' } },
              422: { description: 'Not one emoji', problem: { code: 'validation_failed', example: { errors: [{ path: 'emoji', message: 'must be one emoji' }] } } },
            }),
          },
        },
      )
      .delete(
        '/room/:room_id/messages/:message_id/reactions/:emoji/',
        async ({ params, caller, set }) => {
          const sender = requireIdentity(caller)
          limited(sender)
          await messages.change(sender, parseRoomId(params.room_id), parseMessageId(params.message_id), { type: 'react', emoji: parseEmoji(params.emoji), add: false })
          set.status = 204
        },
        {
          params: reactionParamsSchema,
          detail: {
            summary: 'Take a reaction back',
            description: "Removes the caller's reaction; without one, changes nothing and answers 204 too.",
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({
              204: { description: 'Taken back', empty: true },
              ...changeRefusals,
              409: { description: 'The message was unsent', problem: { code: 'deleted' } },
              422: { description: 'Not one emoji', problem: { code: 'validation_failed', example: { errors: [{ path: 'emoji', message: 'must be one emoji' }] } } },
            }),
          },
        },
      )
      .post(
        '/message/',
        async ({ body, caller, sender, set }) => {
          receivedOverRest.inc()
          if (body.kind === 'system') {
            requireService(caller, 'send a system message')
            if (body.attachments !== undefined || body.message === '')
              throw unprocessable('A system message is text, without attachments.', [
                { path: body.attachments !== undefined ? 'attachments' : 'message', message: body.attachments !== undefined ? 'not with kind "system"' : 'must not be empty' },
              ])
            set.status = 201
            return dto(await messages.sendSystem(body.room, { text: body.message, data: body.data ?? null, silent: body.silent ?? false }, caller))
          }
          if (body.data !== undefined || body.silent !== undefined)
            throw unprocessable('Only system messages carry data or silent.', [{ path: body.data !== undefined ? 'data' : 'silent', message: 'only with kind "system"' }])
          const user = sender ?? requireIdentity(caller)
          const wait = limiter.restMessage(user.identity.userId)
          if (wait > 0) throw tooMany('rate_limited', 'Too many messages from this user; wait and send again.', wait)
          const { message, duplicate } = await messages.send(user, body.room, { text: body.message, clientMsgId: body.client_msg_id ?? null, replyTo: body.reply_to ?? null, attachments: body.attachments ?? [] })
          set.status = duplicate ? 200 : 201
          return dto(message)
        },
        {
          body: sendMessageBodySchema(maxMessageLength, maxDataBytes),
          detail: {
            summary: 'Send a message',
            description:
              'Stores the message as the user the gateway identifies, then broadcasts it as `chat.message` to every socket of the room. A repeated `client_msg_id` (same user, same room) is not stored again: the answer is 200 with the stored message. A service call may send `kind: "system"` (with `data`, and `silent: true` for one that does not count as unread): stored in the room\'s order with no sender (`user_id` null), even in an archived room.',
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({
              201: { description: 'Stored and broadcast', schema: messageSchema, example: exampleMessage },
              200: { description: 'This client_msg_id was already stored; the stored message', schema: messageSchema, example: exampleMessage },
              400: { description: 'The identity headers or the body are malformed', problem: { code: 'invalid_identity', example: { errors: [{ path: 'email', message: 'Invalid email address' }] } } },
              401: { description: 'No identity: X-User-Id is missing', problem: { code: 'identity_required' } },
              403: {
                description:
                  'A private or direct room the sender is not a member of (`not_a_member`), a direct room whose two people have blocked each other (`blocked`), or a system message from a user (`service_call_required`)',
                problem: { code: 'not_a_member' },
              },
              409: { description: 'The room is archived (`room_archived`), or the other member left this direct room (`peer_left`); nothing was stored', problem: { code: 'room_archived' } },
              404: { description: 'No such room (`room_not_found`), or no such message to reply to (`message_not_found`)', problem: { code: 'room_not_found' } },
              429: { description: 'This user is sending too fast (the Retry-After header says how long to wait)', problem: { code: 'rate_limited' } },
              503: {
                description: 'Storage or live delivery is unavailable for a moment (`storage_unavailable`), or the database refuses writes (`storage_read_only`, `storage_damaged`); the message was not stored',
                problem: { code: 'storage_unavailable' },
              },
              507: { description: "The server's disk is full; the message was not stored", problem: { code: 'storage_full' } },
              422: {
                description: 'A field is invalid; each one is listed (`validation_failed`), or `reply_to` names a message of another room (`reply_to_other_room`)',
                problem: { code: 'validation_failed', example: { errors: [{ path: 'message', message: 'must not be empty' }] } },
              },
            }),
          },
        },
      )
  )
}
