import { createChatClient, type ChatClient, type ChatClientOptions, type ConnectionState, type Message, type RoomConnection, type StopInfo } from '../../client/src/index.ts'
import { identityHeaders, type TestUser } from './server.ts'

/** Reconnects within a few hundred milliseconds, so tests do not wait on the production backoff. */
export const QUICK_RECONNECT = { baseMs: 20, capMs: 250 }

/**
 * The client as `user`, identified as a server without a gateway takes it: the seed's query
 * parameters on sockets, the identity headers on REST calls.
 */
export function clientAs(baseUrl: string, user: TestUser, options: Partial<ChatClientOptions> = {}): ChatClient {
  return createChatClient({ baseUrl, auth: () => ({ query: { ...user } as Record<string, string>, headers: identityHeaders(user) }), reconnect: QUICK_RECONNECT, ...options })
}

/** What a room connection delivered, kept for assertions. */
export class RoomLog {
  readonly messages: Message[] = []
  readonly states: ConnectionState[] = []
  stopped: StopInfo | null = null

  constructor(readonly room: RoomConnection) {
    room.on('message', (m) => this.messages.push(m))
    room.on('state', (s) => this.states.push(s))
    room.on('stopped', (info) => (this.stopped = info))
  }

  texts(): string[] {
    return this.messages.map((m) => m.message)
  }
}

/** A promise's outcome, readable without awaiting it. */
export function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false
  promise.then(
    () => (done = true),
    () => (done = true),
  )
  return { promise, settled: () => done }
}

/** Storage in memory with the `localStorage` methods the outbox uses: what survives a page reload. */
export class MemoryStorage {
  readonly items = new Map<string, string>()
  getItem(key: string): string | null {
    return this.items.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value)
  }
  removeItem(key: string): void {
    this.items.delete(key)
  }
}

/** A WebSocket that counts how many were opened: a connection that stopped opens no more. */
export function countingWebSocket(): { WebSocket: typeof WebSocket; opened: () => number } {
  let count = 0
  class Counting extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      count++
    }
  }
  return { WebSocket: Counting, opened: () => count }
}
