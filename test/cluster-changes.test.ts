import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { MessageDto } from '../src/realtime/codec.ts'
import { startCluster, type TestCluster } from './support/cluster.ts'
import { MessageCopy } from './support/message-copy.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { until } from './support/wait.ts'

// Messages that change across three instances on one Postgres and one Redis: every client hears
// every change once, in the room's version order, whichever instance made it; a client that was
// away (across a Redis restart) comes back to exactly the server's copy with since_version=.

let cluster: TestCluster
let instances: ServerProcess[]

beforeAll(async () => {
  cluster = await startCluster('changes', { ...UNLIMITED, PRESENCE_TTL: '2' })
  instances = cluster.instances
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
})

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (instance: ServerProcess) => endpoint(instance.base)
const json = async <T>(res: Response) => (await res.json()) as T
const send = async (instance: ServerProcess, who: TestUser, room: number, message: string) => json<MessageDto>(await on(instance).post('/chat/v1/message/', { room, message }, identityHeaders(who)))
const edit = (instance: ServerProcess, who: TestUser, room: number, id: number, message: string) =>
  on(instance).http(`/chat/v1/room/${room}/messages/${id}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...identityHeaders(who) }, body: JSON.stringify({ message }) })
const unsend = (instance: ServerProcess, who: TestUser, room: number, id: number) => on(instance).http(`/chat/v1/room/${room}/messages/${id}/`, { method: 'DELETE', headers: identityHeaders(who) })
const react = (instance: ServerProcess, who: TestUser, room: number, id: number, emoji: string, add = true) =>
  on(instance).http(`/chat/v1/room/${room}/messages/${id}/reactions/${encodeURIComponent(emoji)}/`, { method: add ? 'PUT' : 'DELETE', headers: identityHeaders(who) })
const history = async (instance: ServerProcess, room: number) => json<MessageDto[]>(await fetch(`${instance.base}/chat/v1/room/${room}/messages/?limit=200`))
const createRoom = async (instance: ServerProcess, name: string) => (await json<{ id: number }>(await on(instance).post('/chat/v1/create-room/', { name }))).id
/** A socket that hears every change from now on (since_version=0 replays nothing new, then goes live). */
async function connectLive(instance: ServerProcess, room: number, who: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(on(instance), room, who, { since_version: '0' })
  await socket.next('chat.recovered')
  return socket
}
const versionsOf = (socket: TestSocket) => socket.frames.filter((f) => typeof f.version === 'number' && f.type !== 'chat.recovered').map((f) => f.version as number)
const allReady = () => until(async () => (await Promise.all(instances.map(async (i) => (await fetch(`${i.base}/readyz`)).status))).every((s) => s === 200), { what: 'every instance ready', timeoutMs: 20_000 })

describe('messages that change across three instances', () => {
  it('should give every client every change once, in version order, whichever instance made it', async () => {
    const room = await createRoom(instances[0]!, 'changes everywhere')
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => connectLive(instances[i % 3]!, room, user(`w${i}`))))
    const authors = [0, 1, 2].map((i) => user(`author${i}`))
    const sent = await Promise.all(authors.map((a, i) => send(instances[i]!, a, room, `${a.nickname}의 글`)))
    // From every instance at once: edits, reactions of 15 people, an unsend.
    await Promise.all([
      ...sent.map((m, i) => edit(instances[(i + 1) % 3]!, authors[i]!, room, m.id, `고친 글 ${i}`)),
      ...Array.from({ length: 15 }, (_, k) => react(instances[k % 3]!, user(`fan${k}`), room, sent[k % 3]!.id, k % 2 === 0 ? '👍' : '❤️')),
      unsend(instances[2]!, authors[0]!, room, sent[0]!.id),
    ])
    const last = Math.max(...(await history(instances[0]!, room)).map((m) => m.version))
    await Promise.all(clients.map((c) => until(() => versionsOf(c).at(-1) === last, { what: `a client at version ${last}`, timeoutMs: 20_000 })))
    const expected = Array.from({ length: last }, (_, i) => i + 1)
    for (const c of clients) expect(versionsOf(c)).toEqual(expected)
    const server = await history(instances[1]!, room)
    for (const c of clients) expect(new MessageCopy().applyAll(c.frames).list()).toEqual(server)
    await Promise.all(clients.map((c) => c.close()))
  }, 60_000)

  it('should bring a client back to exactly the server copy with since_version= after it missed changes across a Redis restart', async () => {
    const room = await createRoom(instances[0]!, 'away and back')
    const alice = user('alice')
    const reader = user('reader')
    const early = []
    for (let i = 0; i < 4; i++) early.push(await send(instances[i % 3]!, alice, room, `메시지 ${i}`))
    const away = await connectLive(instances[1]!, room, reader)
    const copy = new MessageCopy().applyAll((await TestSocket.connect(on(instances[1]!), room, reader, { since: '0' }).then(async (s) => (await s.next('chat.recovered'), await s.close(), s))).frames)
    expect(copy.version).toBe(4)
    await away.close()
    // A socket on the third instance stays through the restart and must end with the same copy.
    const staying = await connectLive(instances[2]!, room, user('staying'))
    const stayingCopy = new MessageCopy().applyAll((await TestSocket.connect(on(instances[2]!), room, user('staying2'), { since: '0' }).then(async (s) => (await s.next('chat.recovered'), await s.close(), s))).frames)
    // While the client is away: changes before, during and after a Redis restart.
    expect((await edit(instances[0]!, alice, room, early[1]!.id, '고친 메시지')).status).toBe(200)
    await react(instances[1]!, user('fan'), room, early[0]!.id, '😂')
    await cluster.redis.stop()
    // Right after Redis goes: stored with its publish lost (read back later from the database), or
    // refused (503) once the instance noticed; then again after the restart.
    const during = await unsend(instances[2]!, alice, room, early[2]!.id)
    expect([204, 503]).toContain(during.status)
    await cluster.redis.start()
    await allReady()
    if (during.status === 503) expect((await unsend(instances[2]!, alice, room, early[2]!.id)).status).toBe(204)
    await react(instances[0]!, user('fan'), room, early[3]!.id, '❤️')
    await react(instances[1]!, user('fan'), room, early[0]!.id, '😂', false)
    await send(instances[2]!, alice, room, '새 메시지')
    const server = await history(instances[0]!, room)
    const newest = Math.max(...server.map((m) => m.version))
    for (const instance of instances) {
      const back = await TestSocket.connect(on(instance), room, reader, { since_version: String(copy.version) })
      const recovered = await back.next('chat.recovered')
      expect(recovered.version).toBe(newest)
      const mine = new MessageCopy()
      for (const m of copy.list()) mine.messages.set(m.id, m)
      mine.applyAll(back.frames)
      expect(mine.list()).toEqual(server)
      await back.close()
    }
    // The socket that stayed heard the changes made while Redis was away too (read back from the database).
    await until(() => stayingCopy.applyAll(staying.frames.splice(0)).version === newest, { what: 'the staying socket caught up', timeoutMs: 20_000 })
    expect(stayingCopy.list()).toEqual(server)
    await staying.close()
  }, 60_000)
})
