import { z } from 'zod'
import { identityInputSchema } from '../identity.ts'
import { exampleChangedMessage, exampleDirectRoom, exampleMessage } from '../modules/examples.ts'

/** The direct room of the examples as a summary (what room events and listings carry). */
const { epoch: _epoch, version: _version, online_users: _online, chat_messages: _messages, members: _members, ...exampleDirectRoomSummary } = exampleDirectRoom
import { inboxFrameSchemas } from '../modules/inbox/model.ts'
import { toJsonSchema } from '../openapi/json-schema.ts'
import { problemSchema } from '../openapi/responses.ts'
import { type AttachmentDto, CloseCode, clientFrameSchema, serverFrameSchemas } from '../realtime/codec.ts'

type Json = Record<string, unknown>

const [clientMessage, clientEdit, clientDelete, clientReact, clientTyping, clientRead] = clientFrameSchema.options

/** The example message as a `chat.message` frame carries it: without the fields at their defaults. */
const { kind: _kind, edited_at: _edited, deleted: _deleted, reply_to: _reply, reactions: _reactions, attachments: _attachments, data: _data, ...plainFrame } = exampleMessage

/** A photo sent with a message, as frames carry it (its URLs signed when the frame was made). */
const examplePhoto: AttachmentDto = {
  id: 'db7c9f5131f742fd8f3ba7a51cc7459e',
  kind: 'image',
  content_type: 'image/jpeg',
  size: 482133,
  name: '중고자전거.jpg',
  width: 1200,
  height: 1600,
  url: '/chat/v1/files/f/db/db7c9f5131f742fd8f3ba7a51cc7459e?expires=1796565600&response-content-type=image%2Fjpeg&response-content-disposition=inline%3B…&signature=an1ZO1v5…',
  thumbnail_url: '/chat/v1/files/t/db/db7c9f5131f742fd8f3ba7a51cc7459e?expires=1796565600&response-content-type=image%2Fjpeg&response-content-disposition=inline%3B…&signature=_nSLC_Ba…',
}

/** A file sent beside it: downloaded, never shown inline; no size in pixels, no thumbnail. */
const exampleFile: AttachmentDto = {
  id: 'd26f5a7d56b640cb84b35e445c1bd36a',
  kind: 'file',
  content_type: 'application/pdf',
  size: 90211,
  name: '견적서.pdf',
  width: null,
  height: null,
  url: '/chat/v1/files/f/d2/d26f5a7d56b640cb84b35e445c1bd36a?expires=1796565600&response-content-type=application%2Fpdf&response-content-disposition=attachment%3B…&signature=bDS0Qb4Y…',
  thumbnail_url: null,
}

/**
 * The WebSocket protocol as an AsyncAPI 3.0 document, built from the zod schemas that parse
 * and encode the frames.
 */
export function asyncApiDocument(version: string): Json {
  const message = (name: string, title: string, summary: string, schema: z.ZodType, example: unknown, ...more: unknown[]) => ({
    name,
    title,
    summary,
    contentType: 'application/json',
    payload: toJsonSchema(schema, 'input'),
    examples: [example, ...more].map((payload) => ({ payload })),
  })
  const handshakeQuery = identityInputSchema.extend({
    since: z.string().regex(/^\d+$/).optional().describe('Last message id the client saw: replay the messages after it (new ones only), then go live'),
    since_version: z
      .string()
      .regex(/^\d+$/)
      .optional()
      .describe('The room version the client has (the highest `version` it applied): replay every message changed after it, once, in its latest form, then go live; wins over since='),
    epoch: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/)
      .optional()
      .describe("The storage epoch the client's since= belongs to (from chat.recovered or room detail); another epoch means reset"),
  })
  const identityHeadersSchema = {
    type: 'object',
    properties: {
      'X-User-Id': { type: 'string', description: 'When present, identity comes from these headers alone' },
      'X-Nickname': { type: 'string', description: 'Percent-encoded UTF-8' },
      'X-Email': { type: 'string' },
      'X-Profile-Url': { type: 'string' },
      'X-Gateway-Secret': { type: 'string', description: 'Required when the server runs with GATEWAY_SECRET' },
      'X-Service-Secret': { type: 'string', description: "SERVICE_SECRET, from the app's backend only: admits the identity to any room" },
    },
  }
  const { epoch: _epoch, online_users: _online, chat_messages: _messages, ...inboxExample } = exampleDirectRoom
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat WebSocket protocol',
      version,
      description: [
        "Live chat in one room per connection, and a stream of each user's inbox. All frames are JSON text.",
        '',
        "**Handshake**: identity comes from the gateway, as the headers `X-User-Id`, `X-Nickname`, `X-Email`, `X-Profile-Url` (percent-encoded UTF-8) or, unless the server runs with `IDENTITY_SOURCES=headers`, as query parameters (`user_id`, `nickname`, `email`, `profile_url`); when `X-User-Id` is present the headers alone count. Identity values with control or bidirectional-control characters, or with nothing visible, are refused. A client that offers subprotocols must offer `chat`, which the server chooses (browsers pass a gateway token as `new WebSocket(url, ['chat', 'bearer.' + token])`; the gateway removes the token). The server refuses before the upgrade, as plain HTTP with an `application/problem+json` body: **400** missing or invalid identity or `since`, or a request target that is not canonical (`non_canonical_path`, `invalid_host`), **401** gateway secret missing or wrong, or (with `IDENTITY_SOURCES=headers`) no identity headers, **403** origin or peer not allowed, or a private or direct room the user is not a member of (`not_a_member`; do not retry), **404** unknown room, **429** too many sockets for the user (`too_many_sockets`) or the room (`room_full`), or too many handshakes lately from the user or the client address (`too_many_handshakes`, with `Retry-After`: wait that long before reconnecting).",
        '',
        "**Moderation**: a muted user's `chat.message`, `chat.edit` and `chat.react` frames are answered with `chat.error` `muted` (with `retry_after` seconds when the mute ends); in slow mode a message sent too soon gets `chat.error` `slow_mode` with `retry_after`; a text a word filter refuses gets `chat.error` `filtered`. A ban closes the user's sockets in the room with 4403 `banned` on every instance (in the room's order), and their handshakes answer 403 `banned`. With CONTACT_GUARD=warn, a message sharing contact details is followed, on every socket but its sender's, by `chat.notice`.",
        '**Rooms with members**: private and direct rooms admit only their members, checked once at the handshake. `chat.member.added` and `chat.member.removed` tell the room of changes; a removed member hears their own `chat.member.removed`, then their sockets in the room close with 4403 `removed`, on every instance. In a direct room whose two people have blocked each other (either way), `chat.message` frames are answered with `chat.error` `blocked` and not stored, and typing is dropped; an unblock takes effect at once.',
        '',
        "**Presence**: `chat.user.join` when a user's first socket in the room opens, `chat.user.leave` once their last one has been closed for `PRESENCE_GRACE_MS` (3 s by default): a reconnect within that time announces neither.",
        '',
        '**Limits**: each socket and each user may send `RATE_LIMIT_PER_SECOND` messages a second (bursts of `RATE_LIMIT_BURST`); past that a message is answered with `chat.error` `rate_limited` and not stored, and a socket that keeps at it is closed with 1008. Typing notices past one per 2 s are dropped without an answer. A socket whose unsent queue stays over `SLOW_CONSUMER_BYTES` is closed with 1013. Sockets that send nothing, not even a pong, for `WS_IDLE_TIMEOUT` seconds are closed.',
        '',
        `**Close codes**: **${CloseCode.goingAway}** server shutting down (reconnect with \`since\`), **${CloseCode.policy}** repeated abuse, **${CloseCode.tooLarge}** frame too large, **${CloseCode.tryAgainLater}** too slow to keep up, or live delivery or a check it needs is away for a moment (reconnect with \`since\`), **${CloseCode.removed}** removed from the room (\`removed\`: do not reconnect).`,
        '',
        "**User stream** (`/ws/chat/inbox/`): one per app, not per room; the same identity, handshake refusals (but no room: no 403 `not_a_member`, 404 or `room_full`), limits, keepalive and close codes. It only sends: `inbox.ready` once it is live, then `inbox.message` for each new message in the user's rooms (with the room's unread count after it; the user's own messages, from any device, with 0), `inbox.message.updated` when one of them is edited or unsent (its new form, with the room's count: an unsent unread message stops counting), `inbox.read` when the user's own marker moves on any device, `inbox.room` when the user gains a room (made a member, a direct room made with them, or their first message or marker in an open room), `inbox.removed` when they lose one. Unread counts are exact: each starts from the store and adds exactly the messages committed after that count. Not followed live (no `inbox.message`; their markers still arrive): open rooms with more than `INBOX_ROOM_PARTICIPANTS` participants (500 by default), and rooms past the user's `INBOX_LIVE_ROOMS` most recently active (1000); a fetch shows them. **Recovery**: the stream keeps no history. On open, wait for `inbox.ready`, then fetch `GET /chat/v1/inbox/` (and `GET /chat/v1/unread/`); apply the frames that arrive after `inbox.ready` on top (an `inbox.message` whose `message.id` is not above the room's `last_message.id` is already in the fetch). After any close, reconnect with backoff and do the same: 1013 here also means events for the user may have been lost (the broker was away), so the fetch is what makes the view whole again. Frames sent to it are answered with `chat.error` `unknown_type` and count against the message rate.",
        '',
        "**Messages that change**: a message's author may edit it (`chat.edit`, within `EDIT_WINDOW_SECONDS`) and unsend it (`chat.delete`, within `UNSEND_WINDOW_SECONDS`; a private room's owner and the room's moderators may unsend any message); members react with one emoji (`chat.react`, at most 20 kinds per message); a `chat.message` may answer another of the room (`reply_to`). Each stored change (a message, an edit, an unsend, a reaction added or taken back) moves the room's `version` by one, in the change's transaction; the room hears `chat.message.updated`, `chat.message.deleted` or `chat.reaction` with the `version` it made, in version order on every instance. A change that changes nothing (the same reaction twice) is not heard. Refusals come as `chat.error` (`message_not_found`, `not_author`, `edit_window_closed`, `unsend_window_closed`, `deleted`, `too_many_reactions`, `reply_to_other_room`). **since_version=N** replays each message changed after version N once in its latest form: `chat.message` for one created after N, `chat.message.updated` or `chat.message.deleted` for one the client had (reactions as the message's current `reactions`), then `chat.recovered` with the `version` the client is now at: after it the client's copy of every message equals the server's. `GET /chat/v1/room/{id}/changes/?after_version=N` gives the same over REST.",
        '',
        '**Photos and files**: upload each first (`POST /chat/v1/uploads/`, REST), then send a `chat.message` with `attachments`, the upload ids (1–10, each once; the text may then be `""`). A send is all or nothing; refusals come as `chat.error`: `upload_not_found` (no upload of the sender\'s by that id), `upload_expired` (older than `UPLOAD_TTL_SECONDS`), `upload_already_attached` (sent with another message already). The room\'s `chat.message` carries `kind` (`image` when every attachment is a photo, else `file`) and `attachments`, each with a `url` and a `thumbnail_url` (at most 320 px; null for files and animated WebP) that are signed and expire after `FILE_URL_TTL_SECONDS`: they work without headers (`<img src>`), and reading the message again (history, a replay) gives fresh ones. An unsent message shows none.',
        '',
        '**Guarantees**: a message is committed before anyone receives it; every client of a room sees messages in ascending `id`; `since=<id>` replays the newest `RECOVERY_LIMIT` messages after it, then `chat.recovered`, then live frames with no gap and no duplicate; ids count within one storage `epoch` (in `chat.recovered` and room detail): a client that reconnects with `epoch=` beside `since=` and names an epoch that is gone (the database was replaced) gets `chat.recovered` with `reset: true` and nothing replayed, and should drop what it holds and reload the room; a repeated `client_msg_id` is stored once and answered to its sender with the stored message.',
      ].join('\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      chat: { host: 'localhost:8000', protocol: 'ws', description: 'The chat server, reached through the gateway' },
    },
    channels: {
      room: {
        address: '/ws/chat/{room_id}/chat/',
        title: 'A chat room',
        parameters: { room_id: { description: 'Room id (from POST /chat/v1/create-room/)' } },
        messages: {
          sendMessage: message(
            'chat.message',
            'Send a message',
            'Client sends a chat message (reply_to: the id of a message of the room it answers; attachments: the ids POST /chat/v1/uploads/ gave, 1–10, the text then possibly "")',
            clientMessage,
            { type: 'chat.message', message: '네, 내일 뵐게요.', client_msg_id: '6f1c2a4e-2', reply_to: 1024 },
            { type: 'chat.message', message: '', client_msg_id: '6f1c2a4e-3', attachments: [examplePhoto.id, exampleFile.id] },
          ),
          sendEdit: message('chat.edit', 'Edit a message', 'Its author, within EDIT_WINDOW_SECONDS; the room hears chat.message.updated', clientEdit, { type: 'chat.edit', id: 1025, message: '네, 내일 오후 3시에 뵐게요.' }),
          sendDelete: message(
            'chat.delete',
            'Unsend a message',
            "For everyone: its author within UNSEND_WINDOW_SECONDS, or a private room's owner or the room's moderators at any time; the room hears chat.message.deleted",
            clientDelete,
            {
              type: 'chat.delete',
              id: 1025,
            },
          ),
          sendReact: message('chat.react', 'React', 'Adds (add: true) or takes back a reaction of one emoji; the room hears chat.reaction', clientReact, { type: 'chat.react', id: 1024, emoji: '👍', add: true }),
          sendTyping: message('chat.typing', 'Typing', 'Client is typing; relayed to the others, throttled', clientTyping, { type: 'chat.typing' }),
          sendRead: message('chat.read', 'Mark read', "Moves the user's read marker forward (clamped to the room's newest message; counts against the message rate)", clientRead, { type: 'chat.read', last_read_id: 1024 }),
          chatMessage: message(
            'chat.message',
            'Message',
            'A stored message, to every socket of the room including the sender; the fields that hold their defaults (kind "text", edited_at null, deleted false, reply_to null, reactions [], attachments [], data null) are left out. With attachments it carries them and its kind ("image" when all are photos, else "file"), their URLs signed for this frame',
            serverFrameSchemas.message,
            { type: 'chat.message', ...plainFrame },
            { type: 'chat.message', ...plainFrame, id: 1026, message: '', client_msg_id: '6f1c2a4e-3', version: 1038, kind: 'file', attachments: [examplePhoto, exampleFile] },
          ),
          messageUpdated: message('chat.message.updated', 'Message changed', 'A message was edited (or, in a since_version= replay, is shown in its latest form, reactions included)', serverFrameSchemas.messageUpdated, {
            type: 'chat.message.updated',
            message: exampleChangedMessage,
            version: exampleChangedMessage.version,
          }),
          messageDeleted: message('chat.message.deleted', 'Message unsent', 'A message was unsent: show it as unsent, without text, attachments or reactions', serverFrameSchemas.messageDeleted, {
            type: 'chat.message.deleted',
            id: 1025,
            room: 7,
            version: 1036,
          }),
          roomUpdated: message(
            'chat.room.updated',
            'Room changed',
            "The app's backend changed the room's name, data (the post's title, price, picture) or status (`archived`: read-only from now on; every write answers `chat.error` `room_archived`), in the room's version order; a since_version= replay sends the room as it is now when it changed while away",
            serverFrameSchemas.roomUpdated,
            { type: 'chat.room.updated', room: { ...exampleDirectRoomSummary, status: 'archived', data: { ...exampleDirectRoomSummary.data, status: '거래완료' } }, version: 1038 },
          ),
          reaction: message('chat.reaction', 'Reaction', 'Someone added or took back a reaction', serverFrameSchemas.reaction, { type: 'chat.reaction', id: 1024, emoji: '👍', user_id: '43', added: true, version: 1037 }),
          userJoin: message('chat.user.join', 'User joined', "A user's first socket in the room opened", serverFrameSchemas.join, { type: 'chat.user.join', username: '홍길동', user_id: '42' }),
          userLeave: message('chat.user.leave', 'User left', "A user's last socket in the room closed", serverFrameSchemas.leave, { type: 'chat.user.leave', username: '홍길동', user_id: '42' }),
          memberAdded: message('chat.member.added', 'Member added', 'Someone became a member of this private room', serverFrameSchemas.memberAdded, { type: 'chat.member.added', user_id: '77' }),
          memberRemoved: message('chat.member.removed', 'Member removed', 'Someone was removed from this private room, or left it', serverFrameSchemas.memberRemoved, { type: 'chat.member.removed', user_id: '77' }),
          read: message('chat.read', 'Marker moved', "A user's read marker moved (by chat.read or POST …/read/; a sender's marker moves to each message they send without this event)", serverFrameSchemas.read, {
            type: 'chat.read',
            user_id: '42',
            last_read_id: 1024,
          }),
          typing: message('chat.typing', 'Someone is typing', 'Relayed typing of another user', serverFrameSchemas.typing, { type: 'chat.typing', user_id: '42', nickname: '홍길동' }),
          notice: message(
            'chat.notice',
            'Contact shared',
            'The contact and scam guard (CONTACT_GUARD=warn) found contact details or an outside payment in the message just heard (phone numbers in real and dodged forms, bank accounts, KakaoTalk ids and open-chat links, payment links): every socket of the room but the sender\'s gets this right after the message. Show a warning under it ("외부 연락처 공유에 주의하세요"); the message itself is stored as sent',
            serverFrameSchemas.notice,
            { type: 'chat.notice', code: 'contact_shared', message_id: 1024, kinds: ['phone'] },
          ),
          error: message(
            'chat.error',
            'Frame refused',
            'A frame the server would not take; the connection stays open. Moderation: `muted` (with `retry_after` when the mute ends), `slow_mode` (with `retry_after`), `filtered` (a word filter refused the text); a ban closes the socket with 4403 `banned` instead',
            serverFrameSchemas.error,
            {
              type: 'chat.error',
              code: 'slow_mode',
              message: 'This room is in slow mode: the next message may go in 8 s.',
              retry_after: 8,
            },
          ),
          recovered: message('chat.recovered', 'Replay finished', 'After the replay requested with since= or since_version= (then with the version reached); live frames follow', serverFrameSchemas.recovered, {
            type: 'chat.recovered',
            count: 3,
            truncated: false,
            epoch: '3f2a9c1e7b8d4e6fa1c2d3e4f5a6b7c8',
            version: 1035,
          }),
        },
        bindings: {
          ws: {
            method: 'GET',
            query: toJsonSchema(handshakeQuery, 'input'),
            headers: identityHeadersSchema,
            bindingVersion: '0.1.0',
          },
        },
      },
      inbox: {
        address: '/ws/chat/inbox/',
        title: "The user's inbox",
        messages: {
          ready: message('inbox.ready', 'Live', 'The stream is live, with the badge as it stands; fetch the inbox now', inboxFrameSchemas.ready, { type: 'inbox.ready', unread: { total: 3, rooms: 2 } }),
          message: message('inbox.message', 'New message', "A new message in one of the user's rooms, with the room's unread count after it", inboxFrameSchemas.message, {
            type: 'inbox.message',
            room: exampleMessage.room,
            message: exampleMessage,
            unread_count: 2,
          }),
          read: message('inbox.read', 'Own marker moved', "The user's read marker moved (on any device), with what is left unread", inboxFrameSchemas.read, {
            type: 'inbox.read',
            room: exampleMessage.room,
            last_read_id: exampleMessage.id,
            unread_count: 0,
          }),
          room: message('inbox.room', 'Room gained', 'A room that is now in the inbox, as an inbox entry', inboxFrameSchemas.room, {
            type: 'inbox.room',
            room: { ...inboxExample, last_message: null, unread_count: 0, last_read_id: 0, members: [] },
          }),
          updated: message('inbox.message.updated', 'Message changed', "A message in one of the user's rooms was edited or unsent, with the room's unread count after it", inboxFrameSchemas.updated, {
            type: 'inbox.message.updated',
            room: exampleMessage.room,
            message: { ...exampleMessage, deleted: true, message: '', version: 1036 },
            unread_count: 1,
          }),
          removed: message(
            'inbox.removed',
            'Room lost',
            'The user is no longer in the room, or hid it (DELETE /chat/v1/inbox/{room_id}/): a newer message brings it back as an `inbox.message` of a room the list lacks (fetch it)',
            inboxFrameSchemas.removed,
            {
              type: 'inbox.removed',
              room: exampleMessage.room,
            },
          ),
          roomUpdated: message('inbox.room.updated', 'Room changed', "A room's name, data or status changed (its summary as a service call sees it: keep the entry's own `peer`)", inboxFrameSchemas.roomUpdated, {
            type: 'inbox.room.updated',
            room: { ...exampleDirectRoomSummary, peer: null, data: { ...exampleDirectRoomSummary.data, status: '예약중' } },
          }),
          error: message('chat.error', 'Frame refused', 'The stream takes no frames', serverFrameSchemas.error, { type: 'chat.error', code: 'unknown_type', message: 'the inbox stream takes no frames; use the REST API' }),
        },
        bindings: { ws: { method: 'GET', query: toJsonSchema(identityInputSchema, 'input'), headers: identityHeadersSchema, bindingVersion: '0.1.0' } },
      },
    },
    operations: {
      inbox: {
        action: 'send',
        channel: { $ref: '#/channels/inbox' },
        summary: "The server sends the user's inbox changes",
        messages: ['ready', 'message', 'updated', 'read', 'room', 'removed', 'roomUpdated', 'error'].map((m) => ({ $ref: `#/channels/inbox/messages/${m}` })),
      },
      sendMessage: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives a chat message', messages: [{ $ref: '#/channels/room/messages/sendMessage' }] },
      sendEdit: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives an edit', messages: [{ $ref: '#/channels/room/messages/sendEdit' }] },
      sendDelete: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives an unsend', messages: [{ $ref: '#/channels/room/messages/sendDelete' }] },
      sendReact: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives a reaction', messages: [{ $ref: '#/channels/room/messages/sendReact' }] },
      sendTyping: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives a typing notice', messages: [{ $ref: '#/channels/room/messages/sendTyping' }] },
      sendRead: { action: 'receive', channel: { $ref: '#/channels/room' }, summary: 'The server receives a read marker', messages: [{ $ref: '#/channels/room/messages/sendRead' }] },
      deliver: {
        action: 'send',
        channel: { $ref: '#/channels/room' },
        summary: 'The server sends room events',
        messages: ['chatMessage', 'messageUpdated', 'messageDeleted', 'roomUpdated', 'reaction', 'userJoin', 'userLeave', 'memberAdded', 'memberRemoved', 'read', 'typing', 'notice', 'error', 'recovered'].map((m) => ({
          $ref: `#/channels/room/messages/${m}`,
        })),
      },
    },
    components: {
      schemas: { Problem: toJsonSchema(problemSchema) },
    },
  }
}
