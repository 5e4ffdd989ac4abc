import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startCluster, type TestCluster } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { until } from './support/wait.ts'

// Moderation on three instances (their own processes) over one fresh Postgres database and a Redis
// of their own: a ban made on one instance closes the user's sockets on the others; a mute made on
// one refuses a send on another at once; slow mode holds across instances (the sender's last message
// is read where the next one commits, in the shared database); the contact guard's notice reaches
// sockets on other instances after the message; word filters set on one apply on the others within
// FILTER_REFRESH_MS.

const SERVICE_SECRET = 'the-app-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }

let cluster: TestCluster
let instances: ServerProcess[]

beforeAll(async () => {
  cluster = await startCluster('moderation', { SERVICE_SECRET, FILTER_REFRESH_MS: '300', ...UNLIMITED })
  instances = cluster.instances
}, 60_000)
afterAll(async () => cluster?.stop())

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (i: number) => endpoint(instances[i % 3]!.base)
const mod = user('mod')

async function json<T>(res: Promise<Response> | Response, status: number): Promise<T> {
  const answer = await res
  const text = await answer.text()
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
  return (text === '' ? null : JSON.parse(text)) as T
}
const put = (i: number, path: string, body: unknown, headers: Record<string, string>) =>
  on(i).http(path, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
const send = (i: number, roomId: number, who: TestUser, message: string) => on(i).post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who))
const openRoom = async () => (await json<{ id: number }>(on(0).post('/chat/v1/create-room/', { name: '중고거래' }), 201)).id

describe('moderation across instances', () => {
  beforeAll(async () => {
    await json(put(0, '/chat/v1/admin/moderators/mod/', {}, service), 200)
  })

  it("should close a user's sockets on B and C when A bans them, and refuse them everywhere", async () => {
    const roomId = await openRoom()
    const banned = user('banned')
    const [onB, onC, watcher] = await Promise.all([TestSocket.live(on(1), roomId, banned), TestSocket.live(on(2), roomId, banned), TestSocket.live(on(2), roomId, user('watcher'))])
    expect((await put(0, `/chat/v1/room/${roomId}/bans/${banned.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
    expect(await onB.closed).toEqual({ code: 4403, reason: 'banned' })
    expect(await onC.closed).toEqual({ code: 4403, reason: 'banned' })
    for (const i of [0, 1, 2]) expect(((await json<{ code: string }>(send(i, roomId, banned, '들어가게 해주세요'), 403)) as { code: string }).code).toBe('banned')
    // The room goes on for the others.
    expect((await send(1, roomId, user('seller'), '계속할게요')).status).toBe(201)
    expect(await watcher.next('chat.message')).toMatchObject({ message: '계속할게요' })
    await watcher.close()
  })

  it('should refuse a send on C the moment a mute made on A answers', async () => {
    const roomId = await openRoom()
    const muted = user('muted')
    const socket = await TestSocket.connect(on(2), roomId, muted)
    await socket.barrier()
    expect((await put(0, `/chat/v1/room/${roomId}/mutes/${muted.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
    expect((await json<{ code: string }>(send(2, roomId, muted, '왜요'), 403)).code).toBe('muted')
    socket.sendMessage('소켓으로도')
    expect(await socket.next((f) => f.type === 'chat.error' && f.code === 'muted')).toMatchObject({ code: 'muted' })
    await socket.close()
  })

  it('should hold slow mode across instances: a send on B right after one on A waits', async () => {
    const roomId = await openRoom()
    await json(on(1).http(`/chat/v1/room/${roomId}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...service }, body: JSON.stringify({ slow_mode_seconds: 30 }) }), 200)
    const sender = user('fast-sender')
    expect((await send(0, roomId, sender, '하나')).status).toBe(201)
    for (const i of [1, 2]) expect((await json<{ code: string; retry_after: number }>(send(i, roomId, sender, '둘'), 429)).code).toBe('slow_mode')
    // Sends racing on all three instances at once: one of them goes in.
    const racer = user('racer')
    const answers = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => send(i, roomId, racer, `동시에 ${i}`)))
    expect(answers.map((a) => a.status).sort()).toEqual([201, 429, 429, 429, 429, 429])
  })

  it('should warn sockets on other instances, after the message, of a contact shared', async () => {
    const roomId = await openRoom()
    const [listenerB, listenerC, senderSocket] = await Promise.all([
      TestSocket.live(on(1), roomId, user('b-listener')),
      TestSocket.live(on(2), roomId, user('c-listener')),
      TestSocket.live(on(0), roomId, user('contact-sender')),
    ])
    const message = await json<{ id: number }>(send(0, roomId, user('contact-sender'), '카톡 아이디 seller_kim 으로 연락주세요'), 201)
    for (const listener of [listenerB, listenerC]) {
      expect((await listener.next('chat.message')).id).toBe(message.id)
      expect(await listener.next('chat.notice')).toEqual({ type: 'chat.notice', code: 'contact_shared', message_id: message.id, kinds: ['kakao_id'] })
    }
    await senderSocket.next('chat.message')
    await senderSocket.barrier()
    expect(senderSocket.all('chat.notice')).toEqual([])
    await Promise.all([listenerB.close(), listenerC.close(), senderSocket.close()])
  })

  it('should apply word filters set on A on B and C within FILTER_REFRESH_MS', async () => {
    const roomId = await openRoom()
    await json(put(0, '/chat/v1/admin/filters/', [{ pattern: '금지어', action: 'refuse' }], service), 200)
    expect((await json<{ code: string }>(send(0, roomId, user('writer'), '금지어 테스트'), 422)).code).toBe('filtered')
    for (const i of [1, 2]) await until(async () => (await send(i, roomId, user('writer'), '금지어 테스트')).status === 422, { timeoutMs: 5000, what: `the filter on instance ${i}` })
    await json(put(1, '/chat/v1/admin/filters/', [], service), 200)
    await until(async () => (await send(2, roomId, user('writer'), '금지어 이제 괜찮아요')).status === 201, { timeoutMs: 5000, what: 'the filter lifted on instance 2' })
  })
})
