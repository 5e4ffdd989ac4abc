import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { MessageDto } from '../src/realtime/codec.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { MessageCopy } from './support/message-copy.ts'
import { alice, bob, carol, createRoom, identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { eventually, startReceiver, type Receiver } from './support/webhooks.ts'

// Messages that change: edit, unsend, reply, react; each a change of its room's version, heard
// live in one order and replayed exactly after a reconnect (since_version=, GET …/changes/).

const SERVICE_SECRET = 'service-secret-of-the-app-backend'
const WEBHOOK_SECRET = 'webhook-secret-of-the-app-backend'
const service = { 'x-service-secret': SERVICE_SECRET }
const dave: TestUser = { user_id: 'u-dave', nickname: '데이브', email: 'dave@example.com' }

for (const store of STORES) {
  describe(`messages that change on ${store.name}`, () => {
    let server: TestServer
    let closedWindows: TestServer
    let receiver: Receiver

    beforeAll(async () => {
      receiver = await startReceiver()
      ;[server, closedWindows] = await Promise.all([
        startStoreServer(store, { SERVICE_SECRET, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, WEBHOOK_RETRY_MIN_MS: '100' }),
        // Windows of 0 s: every edit or unsend by its author comes too late.
        startStoreServer(store, { SERVICE_SECRET, EDIT_WINDOW_SECONDS: '0', UNSEND_WINDOW_SECONDS: '0' }),
      ])
    })
    afterAll(async () => {
      await Promise.all([server?.destroy(), closedWindows?.destroy()])
      await receiver?.stop()
    })

    const send = async (on: TestServer, user: TestUser, room: number, message: string, extra: Record<string, unknown> = {}) => {
      const res = await on.post('/chat/v1/message/', { room, message, ...extra }, identityHeaders(user))
      if (res.status !== 201) throw new Error(`send answered ${res.status}: ${await res.text()}`)
      return (await res.json()) as MessageDto
    }
    const edit = (on: TestServer, user: TestUser, room: number, id: number, message: string, headers: Record<string, string> = {}) =>
      on.http(`/chat/v1/room/${room}/messages/${id}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...identityHeaders(user), ...headers }, body: JSON.stringify({ message }) })
    const unsend = (on: TestServer, user: TestUser, room: number, id: number, headers: Record<string, string> = {}) =>
      on.http(`/chat/v1/room/${room}/messages/${id}/`, { method: 'DELETE', headers: { ...identityHeaders(user), ...headers } })
    const react = (on: TestServer, user: TestUser, room: number, id: number, emoji: string, add = true) =>
      on.http(`/chat/v1/room/${room}/messages/${id}/reactions/${encodeURIComponent(emoji)}/`, { method: add ? 'PUT' : 'DELETE', headers: identityHeaders(user) })
    const history = async (on: TestServer, room: number, user: TestUser = alice) => (await (await on.http(`/chat/v1/room/${room}/messages/?limit=200`, { headers: identityHeaders(user) })).json()) as MessageDto[]
    const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code
    const privateRoom = async (owner: TestUser, members: TestUser[]) => {
      const res = await server.post('/chat/v1/create-room/', { name: 'private', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner))
      if (res.status !== 201) throw new Error(`create-room answered ${res.status}: ${await res.text()}`)
      return ((await res.json()) as { id: number }).id
    }

    it('should let only the author edit, within the window, and show the edit everywhere with the room version', async () => {
      const room = await createRoom(server, 'edits')
      const sent = await send(server, alice, room, '내일 3시에 봬요')
      expect(sent).toMatchObject({ version: 1, edited_at: null, deleted: false, reply_to: null, reactions: [], attachments: [], data: null, kind: 'text' })
      const watcher = await TestSocket.connect(server, room, bob)
      await watcher.barrier()
      expect(await codeOf(await edit(server, bob, room, sent.id, '남의 메시지'))).toBe('not_author')
      const res = await edit(server, alice, room, sent.id, '네, 내일 오후 3시에 뵐게요.')
      expect(res.status).toBe(200)
      const edited = (await res.json()) as MessageDto
      expect(edited).toMatchObject({ id: sent.id, message: '네, 내일 오후 3시에 뵐게요.', version: 2, deleted: false })
      expect(Date.parse(edited.edited_at!)).toBeGreaterThanOrEqual(Date.parse(sent.created_at))
      const frame = await watcher.next('chat.message.updated')
      expect(frame).toEqual({ type: 'chat.message.updated', message: edited, version: 2 })
      expect((await history(server, room)).find((m) => m.id === sent.id)).toEqual(edited)
      // The same text again changes nothing: no version, no frame.
      expect((await edit(server, alice, room, sent.id, '네, 내일 오후 3시에 뵐게요.')).status).toBe(200)
      const detail = (await (await server.http(`/chat/v1/room/${room}/`)).json()) as { version: number }
      expect(detail.version).toBe(2)
      // Past the window (0 s here), and an unknown message.
      const other = await createRoom(closedWindows, 'closed')
      const old = await send(closedWindows, alice, other, 'old')
      await Bun.sleep(5)
      expect(await codeOf(await edit(closedWindows, alice, other, old.id, 'too late'))).toBe('edit_window_closed')
      expect(await codeOf(await edit(server, alice, room, 999_999, 'nothing'))).toBe('message_not_found')
      expect(await codeOf(await edit(server, alice, 999_999, sent.id, 'no such room'))).toBe('room_not_found')
      const empty = await edit(server, alice, room, sent.id, '   ')
      expect(empty.status).toBe(422)
      await watcher.close()
    })

    it('should unsend for everyone: author within the window, an owner or the app any time; text, reactions and unread gone, the original kept for service calls', async () => {
      const room = await privateRoom(alice, [bob, carol])
      const first = await send(server, bob, room, '잘못 보낸 계좌번호 110-123-456789')
      expect((await react(server, carol, room, first.id, '👍')).status).toBe(204)
      const second = await send(server, bob, room, '두 번째')
      const unreadOf = async (user: TestUser) => ((await (await server.http('/chat/v1/unread/', { headers: identityHeaders(user) })).json()) as { total: number }).total
      expect(await unreadOf(carol)).toBe(2)
      expect(await codeOf(await unsend(server, carol, room, first.id))).toBe('not_author')
      expect((await unsend(server, bob, room, first.id)).status).toBe(204)
      // Again: nothing more to do, 204 all the same.
      expect((await unsend(server, bob, room, first.id)).status).toBe(204)
      const [shown] = await history(server, room, carol)
      expect(shown).toMatchObject({ id: first.id, deleted: true, message: '', reactions: [], attachments: [] })
      expect(await unreadOf(carol)).toBe(1)
      expect(await codeOf(await edit(server, bob, room, first.id, 'back'))).toBe('deleted')
      expect(await codeOf(await react(server, carol, room, first.id, '❤️'))).toBe('deleted')
      // The owner of a private room may unsend anyone's message.
      expect((await unsend(server, alice, room, second.id)).status).toBe(204)
      expect(await unreadOf(carol)).toBe(0)
      // The original text, for the app's backend only.
      expect((await server.http(`/chat/v1/admin/messages/${first.id}/history/`, { headers: identityHeaders(alice) })).status).toBe(403)
      const kept = (await (await server.http(`/chat/v1/admin/messages/${first.id}/history/`, { headers: service })).json()) as { message: string; action: string; by: string | null }[]
      expect(kept.map((k) => [k.action, k.message, k.by])).toEqual([
        ['created', '잘못 보낸 계좌번호 110-123-456789', bob.user_id],
        ['deleted', '잘못 보낸 계좌번호 110-123-456789', bob.user_id],
      ])
      const byOwner = (await (await server.http(`/chat/v1/admin/messages/${second.id}/history/`, { headers: service })).json()) as { action: string; by: string }[]
      expect(byOwner.at(-1)).toMatchObject({ action: 'deleted', by: alice.user_id })
      // Past the window the author cannot, the app's backend can.
      const other = await createRoom(closedWindows, 'closed unsend')
      const old = await send(closedWindows, alice, other, 'old')
      await Bun.sleep(5)
      expect(await codeOf(await unsend(closedWindows, alice, other, old.id))).toBe('unsend_window_closed')
      expect((await unsend(closedWindows, alice, other, old.id, service)).status).toBe(204)
    })

    it('should keep a reply on a message of the same room, quoting it cut to 100 characters, and blank once the original is unsent', async () => {
      const room = await createRoom(server, 'replies')
      const long = '가'.repeat(150)
      const original = await send(server, alice, room, long)
      const reply = await send(server, bob, room, '네!', { reply_to: original.id })
      expect(reply.reply_to).toEqual({ id: original.id, user_id: alice.user_id, nickname: alice.nickname, message: '가'.repeat(100) })
      const elsewhere = await createRoom(server, 'elsewhere')
      const wrong = await server.post('/chat/v1/message/', { room: elsewhere, message: 'x', reply_to: original.id }, identityHeaders(bob))
      expect([wrong.status, await codeOf(wrong)]).toEqual([422, 'reply_to_other_room'])
      const unknown = await server.post('/chat/v1/message/', { room, message: 'x', reply_to: 999_999 }, identityHeaders(bob))
      expect([unknown.status, await codeOf(unknown)]).toEqual([404, 'message_not_found'])
      // Over the socket too.
      const socket = await TestSocket.connect(server, room, carol)
      socket.send({ type: 'chat.message', message: '저도요', reply_to: original.id })
      const heard = await socket.next((f) => f.type === 'chat.message' && f.message === '저도요')
      expect((heard.reply_to as { id: number }).id).toBe(original.id)
      socket.send({ type: 'chat.message', message: '?', reply_to: 999_999 })
      expect(await socket.next('chat.error')).toMatchObject({ code: 'message_not_found' })
      await socket.close()
      expect((await unsend(server, alice, room, original.id)).status).toBe(204)
      const replies = (await history(server, room)).filter((m) => m.reply_to !== null)
      expect(replies.map((m) => m.reply_to!.message)).toEqual(['', ''])
    })

    it('should count reactions exactly, idempotently, at most 20 kinds, one emoji each, and tell the room each one', async () => {
      const room = await createRoom(server, 'reactions')
      const message = await send(server, alice, room, '점심 뭐 먹을까요?')
      const watcher = await TestSocket.connect(server, room, dave)
      await watcher.barrier()
      expect((await react(server, bob, room, message.id, '👍')).status).toBe(204)
      expect((await react(server, bob, room, message.id, '👍')).status).toBe(204)
      expect((await react(server, carol, room, message.id, '👍')).status).toBe(204)
      expect((await react(server, carol, room, message.id, '🇰🇷')).status).toBe(204)
      expect((await react(server, carol, room, message.id, '🇰🇷', false)).status).toBe(204)
      expect((await react(server, carol, room, message.id, '🇰🇷', false)).status).toBe(204)
      const [now] = await history(server, room)
      expect(now!.reactions).toEqual([{ emoji: '👍', count: 2, user_ids: [bob.user_id, carol.user_id] }])
      const frames = await watcher.collect('chat.reaction', 4)
      expect(frames.map((f) => [f.emoji, f.user_id, f.added, f.version])).toEqual([
        ['👍', bob.user_id, true, 2],
        ['👍', carol.user_id, true, 3],
        ['🇰🇷', carol.user_id, true, 4],
        ['🇰🇷', carol.user_id, false, 5],
      ])
      for (const bad of ['👍👍', 'a', '가', '1', '%']) {
        const res = await server.http(`/chat/v1/room/${room}/messages/${message.id}/reactions/${encodeURIComponent(bad)}/`, { method: 'PUT', headers: identityHeaders(bob) })
        expect([bad, res.status]).toEqual([bad, 422])
      }
      const twenty = ['😀', '😃', '😄', '😁', '😆', '😅', '😂', '🤣', '😊', '😇', '🙂', '🙃', '😉', '😌', '😍', '🥰', '😘', '😗', '😙']
      for (const emoji of twenty) expect((await react(server, bob, room, message.id, emoji)).status).toBe(204)
      expect(await codeOf(await react(server, bob, room, message.id, '😚'))).toBe('too_many_reactions')
      // Over the socket: the same rules, refusals as chat.error.
      const refusal = () => watcher.next((f) => f.type === 'chat.error' && f.code !== 'unknown_type')
      watcher.send({ type: 'chat.react', id: message.id, emoji: '😚', add: true })
      expect(await refusal()).toMatchObject({ code: 'too_many_reactions' })
      watcher.send({ type: 'chat.react', id: message.id, emoji: 'no', add: true })
      expect(await refusal()).toMatchObject({ code: 'invalid_field' })
      await watcher.close()
    })

    it('should count 20 people reacting at once exactly, and settle an edit racing an unsend into one order', async () => {
      const room = await createRoom(server, 'races')
      const message = await send(server, alice, room, '선착순 20명!')
      const people = Array.from({ length: 20 }, (_, i): TestUser => ({ user_id: `racer-${store.name}-${i}`, nickname: `레이서${i}`, email: `r${i}@example.com` }))
      const answers = await Promise.all(people.flatMap((p) => [react(server, p, room, message.id, '🔥'), react(server, p, room, message.id, '🎉')]))
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 204))
      const [after] = await history(server, room)
      expect(after!.reactions.map((r) => [r.emoji, r.count, r.user_ids.length])).toEqual(
        expect.arrayContaining([
          ['🔥', 20, 10],
          ['🎉', 20, 10],
        ]),
      )
      expect(after!.version).toBe(41)
      // Edits and unsends at once, over and over: each pair ends unsent, with one version per change made.
      for (let round = 0; round < 10; round++) {
        const target = await send(server, alice, room, `round ${round}`)
        const [edited, unsent] = await Promise.all([edit(server, alice, room, target.id, `edited ${round}`), unsend(server, alice, room, target.id)])
        expect(unsent.status).toBe(204)
        const editStatus = edited.status === 200 ? 'edited' : await codeOf(edited)
        expect(['edited', 'deleted']).toContain(editStatus)
        const final = (await history(server, room)).find((m) => m.id === target.id)!
        expect(final).toMatchObject({ deleted: true, message: '' })
        expect(final.version).toBe(target.version + (editStatus === 'edited' ? 2 : 1))
      }
    })

    it('should refuse every change to a member removed from a private room, and to one who never was', async () => {
      const room = await privateRoom(alice, [bob])
      const message = await send(server, bob, room, 'hello')
      const removed = await server.http(`/chat/v1/room/${room}/members/${bob.user_id}/`, { method: 'DELETE', headers: identityHeaders(alice) })
      expect(removed.status).toBe(204)
      for (const res of [
        await edit(server, bob, room, message.id, 'still mine?'),
        await unsend(server, bob, room, message.id),
        await react(server, bob, room, message.id, '👍'),
        await react(server, carol, room, message.id, '👍'),
      ]) {
        expect([res.status, await codeOf(res)]).toEqual([403, 'not_a_member'])
      }
      expect((await history(server, room)).find((m) => m.id === message.id)).toMatchObject({ message: 'hello', deleted: false, reactions: [] })
      // What changed is the room's content: not for them either, over REST or a replay.
      const changes = await server.http(`/chat/v1/room/${room}/changes/?after_version=0`, { headers: identityHeaders(bob) })
      expect([changes.status, await codeOf(changes)]).toEqual([403, 'not_a_member'])
      const replay = await fetch(`${server.base}/ws/chat/${room}/chat/?since_version=0`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...identityHeaders(bob) },
      })
      expect([replay.status, await codeOf(replay)]).toEqual([403, 'not_a_member'])
    })

    it('should refuse every change in a direct room whose pair blocked each other, over REST and the socket, until unblocked', async () => {
      const res = await server.post('/chat/v1/direct-room/', { user_id: bob.user_id, post_id: 26 }, identityHeaders(alice))
      expect([200, 201]).toContain(res.status)
      const room = ((await res.json()) as { id: number }).id
      const message = await send(server, alice, room, '내일 3시에 봬요')
      const socket = await TestSocket.connect(server, room, alice)
      const block = (add: boolean) => server.http(`/chat/v1/blocks/${bob.user_id}/`, { method: add ? 'PUT' : 'DELETE', headers: identityHeaders(alice) })
      expect((await block(true)).status).toBe(204)
      for (const refused of [
        await edit(server, alice, room, message.id, '고친 글'),
        await unsend(server, alice, room, message.id),
        await react(server, alice, room, message.id, '👍'),
        await react(server, bob, room, message.id, '👍'),
      ]) {
        expect([refused.status, await codeOf(refused)]).toEqual([403, 'blocked'])
      }
      for (const frame of [
        { type: 'chat.edit', id: message.id, message: '소켓으로 고친 글' },
        { type: 'chat.react', id: message.id, emoji: '👍', add: true },
        { type: 'chat.delete', id: message.id },
      ]) {
        socket.send(frame)
        expect(await socket.next('chat.error')).toMatchObject({ code: 'blocked' })
      }
      expect((await history(server, room)).find((m) => m.id === message.id)).toMatchObject({ message: '내일 3시에 봬요', deleted: false, reactions: [], version: message.version })
      await socket.close()
      // Unblocked: changes are taken again.
      expect((await block(false)).status).toBe(204)
      expect((await react(server, bob, room, message.id, '👍')).status).toBe(204)
    })

    it('should bring a client that was away exactly to the server copy with since_version=, and GET …/changes/ likewise', async () => {
      const room = await createRoom(server, 'reconnect')
      const live = await TestSocket.connect(server, room, bob, { since: '0' })
      await live.next('chat.recovered')
      const early = []
      for (let i = 0; i < 5; i++) early.push(await send(server, alice, room, `메시지 ${i}`))
      await react(server, carol, room, early[0]!.id, '😂')
      await live.collect('chat.reaction', 1)
      const copy = new MessageCopy().applyAll(live.frames)
      expect(copy.version).toBe(6)
      await live.close()
      // While away: an edit, an unsend and two reactions on old messages, a new message (a reply).
      expect((await edit(server, alice, room, early[1]!.id, '고친 메시지')).status).toBe(200)
      expect((await unsend(server, alice, room, early[2]!.id)).status).toBe(204)
      expect((await react(server, carol, room, early[0]!.id, '😂', false)).status).toBe(204)
      expect((await react(server, dave, room, early[3]!.id, '❤️')).status).toBe(204)
      await send(server, carol, room, '새 메시지', { reply_to: early[2]!.id })
      const back = await TestSocket.connect(server, room, bob, { since_version: String(copy.version) })
      const recovered = await back.next('chat.recovered')
      expect(recovered).toMatchObject({ count: 5, truncated: false, version: 11 })
      const replayed = back.frames.slice(0, -1)
      expect(replayed.map((f) => f.type)).toEqual(['chat.message.updated', 'chat.message.deleted', 'chat.message.updated', 'chat.message.updated', 'chat.message'])
      copy.applyAll(replayed)
      expect(copy.list()).toEqual(await history(server, room))
      // Then live, no double: a change made now arrives once.
      await react(server, alice, room, early[4]!.id, '👏')
      const reaction = await back.next('chat.reaction')
      copy.apply(reaction)
      expect(copy.list()).toEqual(await history(server, room))
      expect(back.all('chat.reaction')).toHaveLength(1)
      await back.close()
      // REST: the same changes after a version, and a version to ask from next.
      const changes = (await (await server.http(`/chat/v1/room/${room}/changes/?after_version=6`)).json()) as { version: number; changes: MessageDto[]; truncated: boolean }
      expect(changes.version).toBe(12)
      expect(changes.truncated).toBe(false)
      expect(changes.changes.map((m) => m.version)).toEqual([7, 8, 9, 10, 11, 12])
      const page = (await (await server.http(`/chat/v1/room/${room}/changes/?after_version=6&limit=2`)).json()) as { version: number; changes: MessageDto[]; truncated: boolean }
      expect([page.truncated, page.changes.map((m) => m.version)]).toEqual([true, [11, 12]])
      expect((await server.http(`/chat/v1/room/${room}/changes/?after_version=-1`)).status).toBe(400)
      const handshake = await fetch(`${server.base}/ws/chat/${room}/chat/?since_version=x`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...identityHeaders(bob) },
      })
      expect([handshake.status, await codeOf(handshake)]).toEqual([400, 'invalid_since_version'])
    })

    it('should change messages over the socket with the same rules, and show the latest form in the inbox', async () => {
      const room = await privateRoom(alice, [bob])
      const socket = await TestSocket.connect(server, room, alice)
      socket.sendMessage('소켓으로 보낸 글')
      const sent = await socket.next('chat.message')
      socket.send({ type: 'chat.edit', id: sent.id, message: '소켓으로 고친 글' })
      const updated = await socket.next('chat.message.updated')
      expect((updated.message as MessageDto).message).toBe('소켓으로 고친 글')
      const inbox = (await (await server.http('/chat/v1/inbox/', { headers: identityHeaders(bob) })).json()) as { rooms: { id: number; last_message: MessageDto | null; unread_count: number }[] }
      expect(inbox.rooms.find((r) => r.id === room)).toMatchObject({ unread_count: 1, last_message: { message: '소켓으로 고친 글' } })
      socket.send({ type: 'chat.react', id: sent.id, emoji: '👍', add: true })
      expect(await socket.next('chat.reaction')).toMatchObject({ id: sent.id, emoji: '👍', user_id: alice.user_id, added: true })
      const bobs = await TestSocket.connect(server, room, bob)
      bobs.send({ type: 'chat.edit', id: sent.id, message: 'mine now' })
      expect(await bobs.next('chat.error')).toMatchObject({ code: 'not_author' })
      socket.send({ type: 'chat.delete', id: sent.id })
      expect(await bobs.next('chat.message.deleted')).toMatchObject({ id: sent.id, room, version: Number(updated.version) + 2 })
      const after = (await (await server.http('/chat/v1/inbox/', { headers: identityHeaders(bob) })).json()) as typeof inbox
      expect(after.rooms.find((r) => r.id === room)).toMatchObject({ unread_count: 0, last_message: { deleted: true, message: '' } })
      await Promise.all([socket.close(), bobs.close()])
    })

    it("should tell the user's stream of edits and unsends in their rooms, the count without an unsent unread message", async () => {
      const room = await privateRoom(alice, [bob])
      const stream = await TestSocket.inbox(server, bob)
      await stream.next('inbox.ready')
      const first = await send(server, alice, room, '첫 번째')
      const second = await send(server, alice, room, '두 번째')
      expect((await stream.collect('inbox.message', 2)).map((f) => f.unread_count)).toEqual([1, 2])
      expect((await edit(server, alice, room, second.id, '두 번째 (수정)')).status).toBe(200)
      expect(await stream.next('inbox.message.updated')).toMatchObject({ room, unread_count: 2, message: { id: second.id, message: '두 번째 (수정)' } })
      // A reaction changes nothing the inbox shows.
      expect((await react(server, bob, room, first.id, '👍')).status).toBe(204)
      expect((await unsend(server, alice, room, first.id)).status).toBe(204)
      expect(await stream.next('inbox.message.updated')).toMatchObject({ room, unread_count: 1, message: { id: first.id, deleted: true, message: '' } })
      const inbox = (await (await server.http('/chat/v1/inbox/', { headers: identityHeaders(bob) })).json()) as { rooms: { id: number; unread_count: number }[] }
      expect(inbox.rooms.find((r) => r.id === room)?.unread_count).toBe(1)
      // Frames of a room arrive in order: once a later message is heard, nothing came for the reaction.
      const later = await send(server, alice, room, '세 번째')
      expect(await stream.next('inbox.message')).toMatchObject({ message: { id: later.id }, unread_count: 2 })
      expect(stream.all('inbox.message.updated')).toHaveLength(2)
      await stream.close()
    })

    it('should count edits and reactions against the same allowance as messages', async () => {
      const limited = await startStoreServer(store, { RATE_LIMIT_PER_SECOND: '0.5', RATE_LIMIT_BURST: '3' })
      try {
        const room = await createRoom(limited, 'limited')
        const message = await send(limited, alice, room, '하나')
        expect((await edit(limited, alice, room, message.id, '둘')).status).toBe(200)
        expect((await react(limited, alice, room, message.id, '👍')).status).toBe(204)
        const refused = await react(limited, alice, room, message.id, '❤️')
        expect([refused.status, await codeOf(refused)]).toEqual([429, 'rate_limited'])
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
        // Over the socket too: the allowance is the user's.
        const socket = await TestSocket.connect(limited, room, alice)
        socket.send({ type: 'chat.edit', id: message.id, message: '셋' })
        expect(await socket.next('chat.error')).toMatchObject({ code: 'rate_limited' })
        await socket.close()
        expect((await history(limited, room))[0]).toMatchObject({ message: '둘', reactions: [{ emoji: '👍', count: 1 }] })
      } finally {
        await limited.destroy()
      }
    })

    it('should tell the app of edits and unsends by webhook, without the unsent text', async () => {
      const room = await createRoom(server, 'hooks')
      const eventsOfRoom = (count: number) =>
        eventually(async () => {
          const mine = (await receiver.received()).map((r) => JSON.parse(r.body) as { type: string; data: { message?: MessageDto; room?: number } }).filter((e) => e.data.room === room)
          if (mine.length < count) throw new Error(`only ${mine.length} events so far`)
          return mine
        })
      const message = await send(server, alice, room, '비밀번호는 1234')
      // A message's own event reads it as it is when sent: let it go out before the changes.
      await eventsOfRoom(1)
      expect((await edit(server, alice, room, message.id, '비밀번호는 알려드릴 수 없어요')).status).toBe(200)
      expect((await unsend(server, alice, room, message.id)).status).toBe(204)
      const events = await eventsOfRoom(3)
      expect(events.map((e) => [e.type, e.data.message?.message, e.data.message?.deleted])).toEqual([
        ['message.created', '비밀번호는 1234', false],
        ['message.updated', '비밀번호는 알려드릴 수 없어요', false],
        ['message.deleted', '', true],
      ])
    })
  })
}
