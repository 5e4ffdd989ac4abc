import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import { ChatApiError, ChatSendError, type Notice, type RoomConnection, type RoomServerFrame } from '../client/src/index.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { clientAs, countingWebSocket } from './support/client.ts'
import type { TestServer, TestUser } from './support/server.ts'
import { until } from './support/wait.ts'

// The client's side of moderation in a marketplace chat: the contact guard's notices, slow mode's
// wait, a mute's refusals (failed once, never sent again and again), a ban that ends the room for
// good, and the moderators' REST calls.

const SERVICE_SECRET = 'moderation-backend-secret-0123456789'
const seller: TestUser = { user_id: 'cm-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'cm-buyer', nickname: '구매자', email: 'buyer@example.com' }
const moderator: TestUser = { user_id: 'cm-mod', nickname: '운영자', email: 'mod@example.com' }

/** What a room connection heard of moderation: notices, its standing, slow mode's waits, refused frames. */
function moderationLog(room: RoomConnection) {
  const log = { notices: [] as Notice[], standings: [] as RoomConnection['moderation'][], waits: [] as number[], errors: [] as RoomServerFrame[], order: [] as string[] }
  room.on('notice', (notice) => {
    log.notices.push(notice)
    log.order.push(`notice ${notice.messageId}`)
  })
  room.on('message', (m) => log.order.push(`message ${m.id}`))
  room.on('moderation', (standing) => log.standings.push(standing))
  room.on('slowMode', (until) => log.waits.push(until))
  room.on('frame', (frame) => frame.type === 'chat.error' && log.errors.push(frame))
  return log
}

/** The rejection of a promise that must reject. */
const refusalOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a refusal')
    },
    (error: unknown) => error,
  )

for (const store of STORES) {
  describe(`the client and moderation, on ${store.name}`, () => {
    let server: TestServer
    let postId = 900
    const backend = () => clientAs(server.base, { user_id: '', nickname: '', email: '' }, { auth: () => ({ headers: { 'x-service-secret': SERVICE_SECRET } }) }).api

    beforeAll(async () => {
      server = await startStoreServer(store, { SERVICE_SECRET })
    })
    afterAll(() => server?.destroy())

    /** The direct room of the buyer and the seller about a new post, as the app's backend makes it. */
    const directRoom = async () => (await backend().createRoom({ name: '중고거래', kind: 'direct', members: [seller.user_id, buyer.user_id], post_id: ++postId })).id
    /** An open room, with `moderator` named its moderator by the backend. */
    const moderatedRoom = async () => {
      const { id } = await backend().createRoom({ name: '동네 장터' })
      await name(moderator, id)
      return id
    }
    const name = async (user: TestUser, roomId: number) => {
      const res = await server.http(`/chat/v1/admin/moderators/${user.user_id}/`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-service-secret': SERVICE_SECRET },
        body: JSON.stringify({ rooms: [roomId] }),
      })
      expect(res.status).toBe(200)
    }
    /** `user`'s room connection, from room detail, open. */
    const open = async (user: TestUser, roomId: number, options: Parameters<ReturnType<typeof clientAs>['room']>[1] = {}) => {
      const client = clientAs(server.base, user)
      const room = client.room(roomId, { detail: await client.api.room(roomId), ...options })
      await until(() => room.state === 'open', { what: `${user.user_id}'s room open` })
      return room
    }

    it('should tell the other member, not the sender, that a message or an edit shared contact details, right after it', async () => {
      const roomId = await directRoom()
      const [mine, theirs] = [await open(buyer, roomId), await open(seller, roomId)]
      const [myLog, theirLog] = [moderationLog(mine), moderationLog(theirs)]

      const plain = await mine.send('안녕하세요, 자전거 보러 가도 될까요?')
      const phone = await mine.send('제 번호는 010-1234-5678 이에요')
      await until(() => theirLog.notices.length === 1, { what: "the seller's notice" })
      expect(theirLog.notices).toEqual([{ messageId: phone.id, kinds: ['phone'] }])
      expect(theirs.noticeOf(phone.id)).toEqual(['phone'])
      expect(theirs.noticeOf(plain.id)).toBeUndefined()
      // Right after the message it is about.
      expect(theirLog.order).toEqual([`message ${plain.id}`, `message ${phone.id}`, `notice ${phone.id}`])

      // An edit that adds an address warns again.
      await mine.edit(plain.id, '메일 주세요 seller.bike@example.com')
      await until(() => theirLog.notices.length === 2, { what: 'the notice of the edit' })
      expect(theirLog.notices[1]).toEqual({ messageId: plain.id, kinds: ['email'] })
      expect(theirs.noticeOf(plain.id)).toEqual(['email'])

      // The seller's answer warns the buyer; the buyer's own messages never did.
      const answer = await theirs.send('카카오톡 아이디 bike_seller 로 연락 주세요')
      await until(() => myLog.notices.length === 1, { what: "the buyer's notice" })
      expect(myLog.notices[0]).toMatchObject({ messageId: answer.id })
      expect(myLog.notices[0]!.kinds).toContain('kakao_id')
      await Bun.sleep(200)
      expect(myLog.notices.map((n) => n.messageId)).toEqual([answer.id])
      expect([mine.noticeOf(phone.id), mine.noticeOf(plain.id)]).toEqual([undefined, undefined])
      expect(theirLog.notices).toHaveLength(2)
      mine.close()
      theirs.close()
    })

    it('should hold sends to slow mode: a countdown after each own message, a refusal waited out and then sent, moderators not held', async () => {
      const roomId = await moderatedRoom()
      const mod = await open(moderator, roomId)
      const room = await open(buyer, roomId)
      const log = moderationLog(room)
      expect([room.slowModeSeconds, room.slowModeUntil, mod.moderation.moderator, room.moderation.moderator]).toEqual([0, 0, true, false])

      // Not a moderator: refused.
      const refused = await refusalOf(clientAs(server.base, buyer).api.setSlowMode(roomId, 2))
      expect(refused).toMatchObject({ name: 'ChatApiError', status: 403, code: 'not_moderator' })
      const detail = await clientAs(server.base, moderator).api.setSlowMode(roomId, 2)
      expect(detail.slow_mode_seconds).toBe(2)
      await until(() => room.slowModeSeconds === 2 && mod.slowModeSeconds === 2, { what: 'slow mode heard' })

      // Each own message starts the wait; the next send waits in `pending` until it is over.
      const first = await room.send('첫 번째')
      const waited = room.slowModeUntil
      expect(waited - Date.now()).toBeGreaterThan(1000)
      expect(waited - Date.now()).toBeLessThanOrEqual(2000)
      expect(log.waits).toEqual([waited])
      const second = room.send('두 번째')
      await Bun.sleep(300)
      expect(room.pending.map((p) => p.message)).toEqual(['두 번째'])
      const stored = await second
      expect(Date.now()).toBeGreaterThanOrEqual(waited)
      expect(stored.id).toBeGreaterThan(first.id)
      expect(log.errors).toEqual([])

      // Over REST the server says how long: 429 with Retry-After.
      const rest = await refusalOf(clientAs(server.base, buyer).api.sendMessage({ room: roomId, message: '급해요' }))
      expect(rest).toBeInstanceOf(ChatApiError)
      expect(rest).toMatchObject({ status: 429, code: 'slow_mode' })
      expect((rest as ChatApiError).retryAfter).toBeGreaterThanOrEqual(1)

      // A second page of the buyer does not know of the wait: the server's refusal tells it, and the message goes once it is over.
      await Bun.sleep(2100)
      await room.send('세 번째')
      const other = await open(buyer, roomId)
      const otherLog = moderationLog(other)
      const late = await other.send('다른 탭에서')
      expect(otherLog.errors).toMatchObject([{ type: 'chat.error', code: 'slow_mode' }])
      const retryAfter = (otherLog.errors[0] as { retry_after?: number }).retry_after!
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      expect(retryAfter).toBeLessThanOrEqual(2)
      expect(otherLog.waits[0]! - Date.now()).toBeLessThanOrEqual(2000)
      expect(late.message).toBe('다른 탭에서')
      const texts = (await clientAs(server.base, buyer).api.history(roomId)).map((m) => m.message)
      expect(texts.filter((t) => t === '다른 탭에서')).toHaveLength(1)

      // Moderators are not held to it.
      await mod.send('공지 1')
      await mod.send('공지 2')
      expect(mod.slowModeUntil).toBe(0)

      // Slow mode off: nothing is waited for.
      await room.send('네 번째')
      expect(room.slowModeUntil).toBeGreaterThan(Date.now())
      await clientAs(server.base, moderator).api.setSlowMode(roomId, 0)
      await until(() => room.slowModeSeconds === 0, { what: 'slow mode off' })
      expect(room.slowModeUntil).toBe(0)
      expect(log.waits.at(-1)).toBe(0)
      const started = Date.now()
      await room.send('다섯 번째')
      expect(Date.now() - started).toBeLessThan(1000)
      for (const r of [mod, room, other]) r.close()
    })

    it('should fail a muted send once, note the mute and its end, refuse edits and reactions, and send again once unmuted', async () => {
      const roomId = await moderatedRoom()
      const modApi = clientAs(server.base, moderator).api
      const room = await open(buyer, roomId)
      const log = moderationLog(room)
      const before = await room.send('가격 조정 되나요?')

      const ends = new Date(Date.now() + 10 * 60_000)
      await modApi.mute(roomId, buyer.user_id, ends)
      expect(await modApi.mutes(roomId)).toMatchObject([{ user_id: buyer.user_id, until: ends.toISOString(), by: moderator.user_id }])
      // Not a moderator, or oneself: refused.
      expect(await refusalOf(clientAs(server.base, seller).api.mute(roomId, buyer.user_id))).toMatchObject({ status: 403, code: 'not_moderator' })
      expect(await refusalOf(modApi.mute(roomId, moderator.user_id))).toMatchObject({ status: 400, code: 'same_user' })

      const failed: string[] = []
      room.on('failed', ({ pending, error }) => failed.push(`${pending.message}: ${error.code}`))
      const refusal = await refusalOf(room.send('왜 답이 없어요'))
      expect(refusal).toBeInstanceOf(ChatSendError)
      expect(refusal).toMatchObject({ code: 'muted' })
      expect(failed).toEqual(['왜 답이 없어요: muted'])
      expect(room.pending).toEqual([])
      expect(room.moderation.muted).toBe(true)
      expect(Math.abs(Date.parse(room.moderation.muted_until!) - ends.getTime())).toBeLessThan(2000)
      expect(log.standings).toEqual([room.moderation])
      // Not sent again and again: one refusal, then quiet.
      await Bun.sleep(1500)
      expect(log.errors).toHaveLength(1)
      expect(log.errors[0]).toMatchObject({ code: 'muted' })
      expect((log.errors[0] as { retry_after?: number }).retry_after).toBeGreaterThan(590)

      // Edits and reactions over REST: 403 muted, with how long.
      const edit = await refusalOf(room.edit(before.id, '가격 조정 되나요??'))
      expect(edit).toMatchObject({ name: 'ChatApiError', status: 403, code: 'muted' })
      expect((edit as ChatApiError).retryAfter).toBeGreaterThan(590)
      expect(await refusalOf(room.react(before.id, '👍'))).toMatchObject({ status: 403, code: 'muted' })

      // Room detail says so too: a new connection knows before it sends.
      const again = await open(buyer, roomId)
      expect(again.moderation).toMatchObject({ moderator: false, muted: true, muted_until: ends.toISOString() })
      again.close()

      // Until unmuted: no end.
      await modApi.mute(roomId, buyer.user_id)
      expect((await modApi.mutes(roomId))[0]!.until).toBeNull()
      expect(await refusalOf(room.send('아직도요?'))).toMatchObject({ code: 'muted' })
      expect(room.moderation).toMatchObject({ muted: true, muted_until: null })

      await modApi.unmute(roomId, buyer.user_id)
      expect(await modApi.mutes(roomId)).toEqual([])
      expect(await refusalOf(modApi.unmute(roomId, buyer.user_id))).toMatchObject({ status: 404, code: 'not_muted' })
      expect((await room.send('이제 되네요')).message).toBe('이제 되네요')
      room.close()
    })

    it('should end the room for good when banned (4403 banned): no reconnect, sends refused, and back once unbanned', async () => {
      const roomId = await moderatedRoom()
      const modApi = clientAs(server.base, moderator).api
      const sockets = countingWebSocket()
      const client = clientAs(server.base, buyer, { WebSocket: sockets.WebSocket })
      const room = client.room(roomId, { detail: await client.api.room(roomId) })
      const stopped = new Promise<Parameters<Parameters<RoomConnection['on']>[1]>[0]>((resolve) => room.on('stopped', resolve))
      await until(() => room.state === 'open', { what: 'the buyer connected' })

      expect(await refusalOf(clientAs(server.base, seller).api.ban(roomId, buyer.user_id))).toMatchObject({ status: 403, code: 'not_moderator' })
      await modApi.ban(roomId, buyer.user_id)
      expect(await stopped).toMatchObject({ reason: 'banned', closeCode: 4403, message: 'banned' })
      expect(room.state).toBe('closed')
      expect(await modApi.bans(roomId)).toMatchObject([{ user_id: buyer.user_id, until: null, by: moderator.user_id }])
      await Bun.sleep(800)
      expect(sockets.opened()).toBe(1)
      expect(await refusalOf(room.send('저기요'))).toMatchObject({ name: 'ChatSendError', code: 'stopped' })
      expect(await refusalOf(client.api.sendMessage({ room: roomId, message: '저기요' }))).toMatchObject({ status: 403, code: 'banned' })

      // Unbanned, the buyer may come back.
      await modApi.unban(roomId, buyer.user_id)
      expect(await modApi.bans(roomId)).toEqual([])
      expect(await refusalOf(modApi.unban(roomId, buyer.user_id))).toMatchObject({ status: 404, code: 'not_banned' })
      const back = await open(buyer, roomId)
      expect((await back.send('다시 왔어요')).message).toBe('다시 왔어요')
      back.close()
    })

    it("should end a direct room's membership with a ban, and refuse to ban a private room's owner", async () => {
      const roomId = await directRoom()
      await name(moderator, roomId)
      const room = await open(buyer, roomId)
      const stopped = new Promise<{ reason: string }>((resolve) => room.on('stopped', resolve))
      const modApi = clientAs(server.base, moderator).api
      await modApi.ban(roomId, buyer.user_id)
      expect(await stopped).toMatchObject({ reason: 'banned' })
      expect((await backend().members(roomId)).map((m) => m.user_id)).toEqual([seller.user_id])
      // A new connection is refused as a non-member now.
      const late = clientAs(server.base, buyer).room(roomId)
      expect(await new Promise((resolve) => late.on('stopped', resolve))).toMatchObject({ reason: 'refused', error: { code: 'not_a_member' } })

      const { id: privateRoom } = await clientAs(server.base, seller).api.createRoom({ name: '판매자 모임', kind: 'private', members: [buyer.user_id] })
      expect(await refusalOf(backend().ban(privateRoom, seller.user_id))).toMatchObject({ status: 409, code: 'owner' })
      // The owner moderates their private room.
      const owner = await open(seller, privateRoom)
      expect(owner.moderation.moderator).toBe(true)
      owner.close()
    })
  })
}

describe('the client bundle', () => {
  it('should stay under 10 KB minified and gzipped with moderation in it', async () => {
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, '..', 'client', 'src', 'index.ts')], target: 'browser', format: 'esm', minify: true })
    expect(built.success).toBe(true)
    const code = await built.outputs[0]!.text()
    expect(code).toContain('chat.notice')
    expect(Bun.gzipSync(code).length).toBeLessThan(10 * 1024)
  })
})
