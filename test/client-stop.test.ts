import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { RoomConnection, StopInfo } from '../client/src/index.ts'
import { clientAs, countingWebSocket } from './support/client.ts'
import { until } from './support/wait.ts'
import { alice, bob, carol, createRoom, startTestServer, type TestServer } from './support/server.ts'

const stoppedOf = (room: RoomConnection) => new Promise<StopInfo>((resolve) => room.on('stopped', resolve))

/** Time in which a connection that kept retrying would have opened several sockets (backoff cap 250 ms). */
const QUIET_MS = 800

describe('a room connection that must not come back', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.destroy())

  it('should stop for good when removed from the room (4403), and refuse sends after', async () => {
    const owner = clientAs(server.base, alice).api
    const { id } = await owner.createRoom({ name: 'team', kind: 'private', members: [bob.user_id] })
    const sockets = countingWebSocket()
    const room = clientAs(server.base, bob, { WebSocket: sockets.WebSocket }).room(id)
    const stopped = stoppedOf(room)
    await until(() => room.state === 'open', { what: 'bob connected' })
    await owner.removeMember(id, bob.user_id)

    expect(await stopped).toMatchObject({ reason: 'removed', closeCode: 4403 })
    expect(room.state).toBe('closed')
    await Bun.sleep(QUIET_MS)
    expect(sockets.opened()).toBe(1)
    await expect(room.send('still here?')).rejects.toMatchObject({ name: 'ChatSendError', code: 'stopped' })
  })

  it('should stop for good when closed for flooding (1008), rejecting what was pending', async () => {
    // One message, then the first refusal closes the socket.
    const strict = await startTestServer({ RATE_LIMIT_PER_SECOND: '0.001', RATE_LIMIT_BURST: '1', FLOOD_CLOSE_AFTER: '1' })
    try {
      const roomId = await createRoom(strict)
      const sockets = countingWebSocket()
      const room = clientAs(strict.base, carol, { WebSocket: sockets.WebSocket }).room(roomId)
      const stopped = stoppedOf(room)
      expect(await room.send('one')).toMatchObject({ message: 'one' })
      const second = room.send('two').then(
        () => null,
        (error: unknown) => error,
      )

      expect(await stopped).toMatchObject({ reason: 'policy', closeCode: 1008 })
      expect(await second).toMatchObject({ name: 'ChatSendError', code: 'stopped' })
      await Bun.sleep(QUIET_MS)
      expect(sockets.opened()).toBe(1)
    } finally {
      await strict.destroy()
    }
  })

  it('should stop when the handshake is refused for good (not a member, no such room), saying why', async () => {
    const { id } = await clientAs(server.base, alice).api.createRoom({ name: 'members only', kind: 'private' })
    for (const [roomId, code] of [
      [id, 'not_a_member'],
      [987_654, 'room_not_found'],
    ] as const) {
      const sockets = countingWebSocket()
      const room = clientAs(server.base, carol, { WebSocket: sockets.WebSocket }).room(roomId)
      const info = await stoppedOf(room)
      expect(info.reason).toBe('refused')
      expect(info.error).toMatchObject({ name: 'ChatApiError', code })
      await Bun.sleep(QUIET_MS)
      expect(sockets.opened()).toBe(1)
    }
  })

  it('should reconnect after the server shuts down (1001), and not stop', async () => {
    const own = await startTestServer()
    const roomId = await createRoom(own)
    const room = clientAs(own.base, alice).room(roomId, { since: 0 })
    const states: string[] = []
    room.on('state', (state) => states.push(state))
    await until(() => room.state === 'open', { what: 'connected' })
    const restarted = await own.restart()
    try {
      await until(() => states.join() === 'open,reconnecting,open', { what: 'connected again', timeoutMs: 15_000 })
      expect(await room.send('back')).toMatchObject({ message: 'back' })
      room.close()
    } finally {
      await restarted.destroy()
    }
  })
})
