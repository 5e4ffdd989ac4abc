// @gateway-chat/client: the chat server's protocol, typed from the server's own schemas, with the
// reconnects, recovery, retries and credentials that its guarantees need on the client's side.
import { Transport, type TransportOptions } from './http.ts'
import { InboxStream, type InboxOptions } from './inbox.ts'
import { ChatApi } from './rest.ts'
import { RoomConnection, type RoomOptions } from './room.ts'
import type { ReconnectOptions } from './socket.ts'

/** Everything the client needs to know once. */
export interface ChatClientOptions extends TransportOptions {
  /** Backoff and give-up rules of every socket. */
  reconnect?: ReconnectOptions
}

/** One server, one set of credentials: its REST API, room connections and the inbox stream. */
export interface ChatClient {
  readonly api: ChatApi
  /** Connects to a room (at once) and keeps it connected until `close()`. */
  room(roomId: number, options?: RoomOptions): RoomConnection
  /** Opens the user stream (at once) and keeps the inbox current until `close()`. */
  inbox(options?: InboxOptions): InboxStream
}

/** Creates a client of the chat server at `baseUrl` (the page's origin in a browser). */
export function createChatClient(options: ChatClientOptions = {}): ChatClient {
  const transport = new Transport(options)
  const api = new ChatApi(transport)
  const reconnect = options.reconnect ?? {}
  return {
    api,
    room: (roomId, roomOptions = {}) => new RoomConnection(roomId, transport, api, { ...roomOptions, reconnect }),
    inbox: (inboxOptions = {}) => new InboxStream(transport, api, { ...inboxOptions, reconnect }),
  }
}

export { backoffDelay, type BackoffOptions } from './backoff.ts'
export { ChatApiError, ChatSendError, type SendFailure } from './errors.ts'
export type { AuthContext, AuthHook, AuthParams, AuthSignal, FetchLike, FetchResponse, TransportOptions, WebSocketConstructor, WebSocketLike } from './http.ts'
export { InboxStream, type InboxEvents, type InboxOptions, type InboxRoomUpdatedFrame, type InboxUpdatedFrame } from './inbox.ts'
export { isSystemMessage, type SystemMessage } from './messages.ts'
export type { OutboxStorage, PendingFile, PendingMessage } from './outbox.ts'
export { ChatApi } from './rest.ts'
export { RoomConnection, type Notice, type RoomEvents, type RoomOptions } from './room.ts'
export type { SendInput } from './sends.ts'
export type { ConnectionState, ReconnectOptions, StopInfo } from './socket.ts'
export type { FileLike, FileProgress, Upload, UploadOptions, UploadProgress, UploadSource } from './uploads.ts'
export type * from './types.ts'
