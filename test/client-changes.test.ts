import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { ChatApiError, ChatSendError, type Message, type RoomConnection } from '../client/src/index.ts'
import { clientAs, RoomLog } from './support/client.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { until } from './support/wait.ts'
import { alice, bob, createRoom, startTestServer, type TestServer } from './support/server.ts'

/** A WebSocket that keeps the URL of every socket it opened. */
function recordingWebSocket(urls: string[]): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      urls.push(String(url))
    }
  }
}

/** The room's messages as the connection holds them, by id. */
const held = (room: RoomConnection) => [...room.messages.values()].sort((a, b) => a.id - b.id)

/** The connection holds every message exactly as the server has it now. */
async function holdsWhatServerHas(room: RoomConnection, stored: () => Promise<Message[]>) {
  const same = async () => Bun.deepEquals(held(room), await stored())
  await until(same, { what: 'the held messages equal the stored ones' }).catch(async () => expect(held(room)).toEqual(await stored()))
}

describe('a room connection and the messages that change', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.destroy())

  it('should apply edits, unsends, reactions and replies live, on both clients, as the server stores them', async () => {
    const a = clientAs(server.base, alice)
    const b = clientAs(server.base, bob)
    const team = await a.api.createRoom({ name: '디자인팀', kind: 'private', members: [bob.user_id] })
    const stored = () => a.api.history(team.id, { limit: 100 })
    const ra = a.room(team.id, { detail: await a.api.room(team.id) })
    const rb = b.room(team.id, { detail: await b.api.room(team.id) })
    const changes: Message[] = []
    rb.on('change', (m) => changes.push(m))
    const logB = new RoomLog(rb)
    await until(() => ra.state === 'open' && rb.state === 'open', { what: 'both open' })

    const first = await ra.send('내일 3시에 봬요')
    const reply = await rb.send({ text: '네, 좋아요', replyTo: first.id })
    expect(reply.reply_to).toEqual({ id: first.id, user_id: alice.user_id, nickname: alice.nickname, message: '내일 3시에 봬요' })
    const edited = await ra.edit(first.id, '내일 오후 3시에 뵐게요')
    expect(edited).toMatchObject({ id: first.id, message: '내일 오후 3시에 뵐게요' })
    expect(ra.messages.get(first.id)).toEqual(edited)
    await rb.react(first.id, '👍')
    await ra.react(first.id, '👍')
    await ra.react(reply.id, '❤️')
    await ra.react(reply.id, '❤️', false)
    await until(() => rb.messages.get(first.id)?.reactions[0]?.count === 2, { what: 'both reactions on bob’s side' })
    expect(rb.messages.get(first.id)).toMatchObject({ message: '내일 오후 3시에 뵐게요', reactions: [{ emoji: '👍', count: 2, user_ids: [bob.user_id, alice.user_id] }] })
    // The reply's quote follows the edit.
    expect(rb.messages.get(reply.id)?.reply_to?.message).toBe('내일 오후 3시에 뵐게요')

    await ra.unsend(first.id)
    await until(() => rb.messages.get(first.id)?.deleted, { what: 'the unsend on bob’s side' })
    expect(rb.messages.get(first.id)).toMatchObject({ message: '', deleted: true, reactions: [] })
    expect(rb.messages.get(reply.id)?.reply_to?.message).toBe('')
    await holdsWhatServerHas(ra, stored)
    await holdsWhatServerHas(rb, stored)
    // Each new message once; every change as a `change` of a held message.
    expect(logB.messages.map((m) => m.id)).toEqual([first.id, reply.id])
    expect(changes.filter((m) => m.id === first.id).at(-1)).toMatchObject({ deleted: true })
    expect(rb.version).toBe((await b.api.room(team.id)).version)
    ra.close()
    rb.close()
  })

  it('should refuse what the server refuses: another’s message, a reply to another room', async () => {
    const a = clientAs(server.base, alice)
    const b = clientAs(server.base, bob)
    const roomId = await createRoom(server)
    const otherRoom = await createRoom(server)
    const elsewhere = await a.api.sendMessage({ room: otherRoom, message: '다른 방' })
    const ra = a.room(roomId, { since: 0 })
    const rb = b.room(roomId, { since: 0 })
    const mine = await ra.send('제 메시지')
    expect(await rb.edit(mine.id, '남의 메시지').catch((e: unknown) => e)).toMatchObject({ name: 'ChatApiError', status: 403, code: 'not_author' })
    expect(await rb.unsend(mine.id).catch((e: unknown) => e)).toBeInstanceOf(ChatApiError)
    expect(await rb.send({ text: '엉뚱한 답장', replyTo: elsewhere.id }).catch((e: unknown) => e)).toMatchObject({ name: 'ChatSendError', code: 'reply_to_other_room' })
    expect(await rb.send({ text: '없는 답장', replyTo: 987_654 }).catch((e: unknown) => e)).toMatchObject({ name: 'ChatSendError', code: 'message_not_found' })
    expect(await rb.send({ text: '잘못된 번호', replyTo: 0 }).catch((e: unknown) => e)).toBeInstanceOf(ChatSendError)
    // The socket goes on: the next send completes.
    expect(await rb.send('계속')).toMatchObject({ message: '계속' })
    ra.close()
    rb.close()
  })

  it('should reconnect with since_version= from the highest version applied, and hold what the server holds after the replay', async () => {
    const proxy = await FaultProxy.start(Number(new URL(server.base).port), 'changes')
    try {
      const a = clientAs(server.base, alice)
      const urls: string[] = []
      const b = clientAs(`http://127.0.0.1:${proxy.port}`, bob, { WebSocket: recordingWebSocket(urls) })
      const roomId = await createRoom(server)
      const kept = await a.api.sendMessage({ room: roomId, message: '그대로' })
      const edited = await a.api.sendMessage({ room: roomId, message: '고칠 글' })
      const unsent = await a.api.sendMessage({ room: roomId, message: '지울 글' })
      const stored = () => a.api.history(roomId, { limit: 100 })
      const rb = b.room(roomId, { detail: await b.api.room(roomId) })
      const log = new RoomLog(rb)
      await until(() => rb.state === 'open', { what: 'open' })
      await a.api.react(roomId, kept.id, '👍')
      await until(() => rb.messages.get(kept.id)?.reactions.length === 1, { what: 'the live reaction' })
      const before = rb.version!

      // Away: the room changes meanwhile, and new messages come, one of them changed too.
      proxy.dropNewConnections(true)
      proxy.cut()
      await until(() => rb.state === 'reconnecting', { what: 'reconnecting' })
      await a.api.editMessage(roomId, edited.id, { message: '고친 글' })
      await a.api.unsendMessage(roomId, unsent.id)
      await a.api.react(roomId, kept.id, '👍', false)
      await a.api.react(roomId, kept.id, '🎉')
      const newer = await a.api.sendMessage({ room: roomId, message: '새 글 1' })
      const newest = await a.api.sendMessage({ room: roomId, message: '새 글 2' })
      await a.api.editMessage(roomId, newer.id, { message: '새 글 1 (고침)' })
      proxy.dropNewConnections(false)

      await until(() => log.messages.length === 2, { what: 'the new messages' })
      await holdsWhatServerHas(rb, stored)
      expect(new URL(urls.at(-1)!).searchParams.get('since_version')).toBe(String(before))
      // In id order, each once, in the latest form, though the replay sent them in version order.
      expect(log.messages.map((m) => [m.id, m.message])).toEqual([
        [newer.id, '새 글 1 (고침)'],
        [newest.id, '새 글 2'],
      ])
      expect(rb.version).toBe((await a.api.room(roomId)).version)
      rb.close()
    } finally {
      await proxy.close()
    }
  })

  it('should say how many members have not read each message, from room detail and chat.read', async () => {
    const a = clientAs(server.base, alice)
    const b = clientAs(server.base, bob)
    const direct = await a.api.directRoom({ user_id: bob.user_id, post_id: 31 })
    const ra = a.room(direct.id, { detail: await a.api.room(direct.id) })
    const sent = await ra.send('읽으셨나요?')
    expect(ra.unreadBy(sent)).toBe(1)
    const reads: number[] = []
    ra.on('reads', (markers) => reads.push(markers.get(bob.user_id) ?? 0))
    const rb = b.room(direct.id, { detail: await b.api.room(direct.id) })
    rb.markRead(sent.id)
    await until(() => ra.unreadBy(sent) === 0, { what: 'read by bob' })
    expect(reads.at(-1)).toBe(sent.id)
    // A message Bob sends moves his marker past Alice's next one (the room hears no chat.read of it).
    const next = await ra.send('내일 몇 시에 볼까요?')
    expect(ra.unreadBy(next)).toBe(1)
    await b.api.sendMessage({ room: direct.id, message: '3시요' })
    await until(() => ra.unreadBy(next) === 0, { what: 'read by bob, who answered' })
    // An open room counts no one.
    const openId = await createRoom(server)
    const open = a.room(openId, { detail: await a.api.room(openId) })
    expect(open.unreadBy(sent)).toBeNull()
    for (const room of [ra, rb, open]) room.close()
  })
})
