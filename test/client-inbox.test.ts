import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { InboxStream } from '../client/src/index.ts'
import { clientAs } from './support/client.ts'
import { until } from './support/wait.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { startTestServer, type TestServer, type TestUser } from './support/server.ts'

// The library's inbox: the user stream and `GET /chat/v1/inbox/` kept together, through reconnects.

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })

describe('the inbox stream of the client', () => {
  let server: TestServer
  let proxy: FaultProxy
  let via: string
  beforeAll(async () => {
    server = await startTestServer()
    proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    via = `http://127.0.0.1:${proxy.port}`
  })
  afterAll(async () => {
    await proxy.close()
    await server.destroy()
  })

  /** The inbox's rooms as [id, unread count, last message], latest activity first. */
  const summary = (inbox: InboxStream) => inbox.rooms.map((r) => [r.id, r.unread_count, r.last_message?.message ?? null])

  it('should keep unread counts live, follow rooms gained and lost, and take the user’s own reads from elsewhere', async () => {
    const [me, writer] = [user('inbox-me'), user('inbox-writer')]
    const theirs = clientAs(server.base, writer).api
    const mine = clientAs(server.base, me).api
    const team = await theirs.createRoom({ name: 'team', kind: 'private', members: [me.user_id] })
    await theirs.sendMessage({ room: team.id, message: 'before' })

    const inbox = clientAs(via, me).inbox()
    await until(() => summary(inbox).length === 1, { what: 'the first fetch' })
    expect(summary(inbox)).toEqual([[team.id, 1, 'before']])

    const second = await theirs.createRoom({ name: 'later', kind: 'private', members: [me.user_id] })
    await until(() => summary(inbox).length === 2, { what: 'the gained room' })
    const one = await theirs.sendMessage({ room: team.id, message: 'one' })
    await until(() => inbox.unreadCount === 2, { what: 'the new message counted' })
    expect(summary(inbox)).toEqual([
      [team.id, 2, 'one'],
      [second.id, 0, null],
    ])
    // Read on another device: the stream says so.
    await mine.markRead(team.id, one.id)
    await until(() => inbox.unreadCount === 0, { what: 'the read from elsewhere' })
    await theirs.removeMember(second.id, me.user_id)
    await until(() => summary(inbox).length === 1, { what: 'the lost room' })
    expect(summary(inbox)).toEqual([[team.id, 0, 'one']])
    inbox.close()
  })

  it('should fetch the inbox again after a reconnect, so what came meanwhile is counted', async () => {
    const [me, writer] = [user('inbox-away'), user('inbox-away-writer')]
    const theirs = clientAs(server.base, writer).api
    const direct = await theirs.directRoom({ user_id: me.user_id, post_id: 1 })
    const inbox = clientAs(via, me).inbox()
    const states: string[] = []
    inbox.on('state', (s) => states.push(s))
    await until(() => inbox.state === 'open' && summary(inbox).length === 1, { what: 'the first fetch' })

    // The network drops and stays down while two messages come.
    proxy.dropNewConnections(true)
    proxy.cut()
    await until(() => inbox.state === 'reconnecting', { what: 'reconnecting' })
    await theirs.sendMessage({ room: direct.id, message: 'while away 1' })
    await theirs.sendMessage({ room: direct.id, message: 'while away 2' })
    expect(inbox.unreadCount).toBe(0)
    proxy.dropNewConnections(false)

    await until(() => inbox.unreadCount === 2, { what: 'the missed messages counted' })
    expect(summary(inbox)).toEqual([[direct.id, 2, 'while away 2']])
    expect(states).toEqual(['open', 'reconnecting', 'open'])
    inbox.close()
  })
})
