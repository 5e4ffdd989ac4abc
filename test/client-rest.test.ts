import { png } from '../src/uploads/image-fixtures.ts'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { ChatApiError, createChatClient, type ChatApi, type FetchLike } from '../client/src/index.ts'
import { alice, bob, carol, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'

const SERVICE_SECRET = 'service-secret-of-the-app-backend'

/** Each REST call the client made, as method and path (query left off). */
type Call = { method: string; path: string }

/** A client as `user` whose fetch records every call it makes. */
function recordingClient(base: string, user: TestUser, calls: Call[], headers: Record<string, string> = {}): ChatApi {
  const fetch: FetchLike = (url, init) => {
    calls.push({ method: init.method.toLowerCase(), path: new URL(url).pathname })
    return globalThis.fetch(url, init)
  }
  return createChatClient({ baseUrl: base, fetch, auth: () => ({ headers: { ...identityHeaders(user), ...headers } }) }).api
}

/**
 * The app's backend administers moderation with plain service calls; the client library, which
 * apps ship to browsers under a size budget, leaves these out (client/README.md says so).
 */
const BACKEND_ONLY = [
  'get /chat/v1/admin/moderators/{user_id}/',
  'put /chat/v1/admin/moderators/{user_id}/',
  'delete /chat/v1/admin/moderators/{user_id}/',
  'get /chat/v1/admin/filters/',
  'put /chat/v1/admin/filters/',
  'get /chat/v1/admin/audit/',
  'patch /chat/v1/admin/reports/{report_id}/',
]

/** An OpenAPI path (`/chat/v1/room/{room_id}/`) as a pattern over concrete paths. */
const pattern = (template: string) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)

describe('the REST helpers', () => {
  let server: TestServer
  let operations: Call[]
  beforeAll(async () => {
    server = await startTestServer({ SERVICE_SECRET })
    const openapi = (await (await server.http('/docs/json')).json()) as { paths: Record<string, Record<string, unknown>> }
    operations = Object.entries(openapi.paths)
      .filter(([path]) => path.startsWith('/chat/v1/'))
      .flatMap(([path, item]) => Object.keys(item).map((method) => ({ method, path })))
      .filter((op) => !BACKEND_ONLY.includes(`${op.method} ${op.path}`))
  })
  afterAll(() => server.destroy())

  it('should cover every operation of the OpenAPI document, each answering as typed', async () => {
    const calls: Call[] = []
    const owner = recordingClient(server.base, alice, calls)
    const member = recordingClient(server.base, bob, calls)
    const service = recordingClient(server.base, carol, calls, { 'x-service-secret': SERVICE_SECRET })

    expect(await owner.me()).toEqual({ user_id: alice.user_id, nickname: alice.nickname, email: alice.email, profile_picture_url: alice.profile_url ?? null })
    expect(await member.me()).toMatchObject({ user_id: bob.user_id, nickname: bob.nickname, profile_picture_url: null })
    const team = await owner.createRoom({ name: 'team', kind: 'private', members: [bob.user_id] })
    expect(team).toMatchObject({ kind: 'private', member_count: 2 })
    const sent = await member.sendMessage({ room: team.id, message: 'hello', client_msg_id: 'rest-1' })
    expect(await member.sendMessage({ room: team.id, message: 'hello', client_msg_id: 'rest-1' })).toEqual(sent)
    expect(await owner.history(team.id, { after: 0, limit: 10 })).toEqual([sent])
    expect((await owner.room(team.id)).chat_messages).toEqual([sent])
    expect((await owner.rooms({ limit: 200 })).map((r) => r.id)).toContain(team.id)
    expect(await owner.addMember(team.id, carol.user_id)).toMatchObject({ user_id: carol.user_id, role: 'member' })
    expect((await owner.members(team.id)).map((m) => m.user_id).sort()).toEqual([alice.user_id, bob.user_id, carol.user_id].sort())
    expect(await owner.removeMember(team.id, carol.user_id)).toBeUndefined()
    // Moderation: a private room's owner mutes, bans and sets slow mode there.
    expect(await owner.mute(team.id, bob.user_id, new Date(Date.now() + 60_000))).toBeUndefined()
    expect((await owner.mutes(team.id)).map((m) => m.user_id)).toEqual([bob.user_id])
    expect(await owner.unmute(team.id, bob.user_id)).toBeUndefined()
    expect(await owner.ban(team.id, carol.user_id)).toBeUndefined()
    expect((await owner.bans(team.id)).map((m) => [m.user_id, m.by])).toEqual([[carol.user_id, alice.user_id]])
    expect(await owner.unban(team.id, carol.user_id)).toBeUndefined()
    expect((await owner.setSlowMode(team.id, 5)).slow_mode_seconds).toBe(5)
    expect((await owner.setSlowMode(team.id, 0)).slow_mode_seconds).toBe(0)
    expect(await owner.unread()).toEqual({ total: 1, rooms: 1 })
    expect(await owner.markRead(team.id, sent.id)).toEqual({ room: team.id, last_read_id: sent.id, unread_count: 0 })
    expect((await owner.inbox({ limit: 10 })).rooms.map((r) => [r.id, r.unread_count])).toEqual([[team.id, 0]])
    const reply = await owner.sendMessage({ room: team.id, message: '네', reply_to: sent.id })
    expect(reply.reply_to).toEqual({ id: sent.id, user_id: bob.user_id, nickname: bob.nickname, message: 'hello' })
    const edited = await member.editMessage(team.id, sent.id, { message: 'hello again' })
    expect(edited).toMatchObject({ id: sent.id, message: 'hello again', deleted: false })
    expect(edited.edited_at).not.toBeNull()
    expect(await owner.react(team.id, sent.id, '👍')).toBeUndefined()
    expect(await owner.react(team.id, sent.id, '👍', false)).toBeUndefined()
    expect(await owner.react(team.id, reply.id, '❤️')).toBeUndefined()
    expect(await owner.unsendMessage(team.id, reply.id)).toBeUndefined()
    const changes = await owner.changes(team.id, { after_version: sent.version })
    expect(changes.changes.map((m) => [m.id, m.message, m.deleted, m.reactions])).toEqual([
      [sent.id, 'hello again', false, []],
      [reply.id, '', true, []],
    ])
    expect(changes).toMatchObject({ version: changes.changes.at(-1)?.version, truncated: false })
    expect((await service.messageHistory(sent.id)).map((t) => [t.message, t.action])).toEqual([
      ['hello', 'created'],
      ['hello again', 'edited'],
    ])
    const direct = await owner.directRoom({ user_id: bob.user_id, post_id: 7 })
    expect(direct).toMatchObject({ kind: 'direct', post_id: 7 })
    expect(await owner.block(bob.user_id)).toBeUndefined()
    expect((await owner.blocks()).map((b) => b.user_id)).toEqual([bob.user_id])
    expect(await owner.unblock(bob.user_id)).toBeUndefined()
    const photo = await owner.upload({ data: new Uint8Array(await png(40, 30)), name: '사진.png' })
    expect(photo).toMatchObject({ kind: 'image', content_type: 'image/png', name: '사진.png', width: 40, height: 30 })
    expect((await owner.sendMessage({ room: team.id, message: '', attachments: [photo.id] })).attachments.map((a) => a.id)).toEqual([photo.id])
    const report = await owner.report({ message_id: sent.id, reason: 'spam' })
    expect(report).toMatchObject({ message_id: sent.id, reporter: alice.user_id, room: team.id })
    const [queued, ...rest] = await service.reports()
    expect(rest).toEqual([])
    expect(queued).toMatchObject({ ...report, message: { id: sent.id }, context: { before: expect.any(Array), after: expect.any(Array) } })
    expect(await service.deadWebhooks()).toEqual([])

    // The post's context: the app's backend keeps the post on the room and speaks in every room about it; a member leaves.
    const post = { title: '자전거', price: 120000 }
    expect(await service.updateRoom(direct.id, { data: post })).toMatchObject({ id: direct.id, data: post, status: 'active' })
    expect(await service.postEvent(7, { message: '거래가 완료되었어요', data: { event: 'sold' }, status: 'archived' })).toEqual({ rooms: [direct.id] })
    expect((await owner.rooms({ post_id: 7 })).map((r) => [r.id, r.status])).toEqual([[direct.id, 'archived']])
    expect(await member.hideRoom(direct.id, { leave: true })).toBeUndefined()
    expect((await member.inbox({ post_id: 7 })).rooms).toEqual([])

    const called = (op: Call) => calls.some((c) => c.method === op.method && pattern(op.path).test(c.path))
    expect(operations.length).toBeGreaterThan(15)
    expect(operations.filter((op) => !called(op))).toEqual([])
  })

  it('should throw the problem the server answered, with its code and the invalid fields', async () => {
    const api = recordingClient(server.base, alice, [])
    const missing = await api.room(987_654).catch((error: unknown) => error)
    expect(missing).toBeInstanceOf(ChatApiError)
    expect(missing).toMatchObject({ status: 404, code: 'room_not_found' })
    const invalid = await api.createRoom({ name: '' }).catch((error: unknown) => error)
    expect(invalid).toMatchObject({ status: 422, code: 'validation_failed' })
    expect((invalid as ChatApiError).errors?.map((e) => e.path)).toContain('name')
  })
})
