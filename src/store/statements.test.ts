import { afterAll, beforeAll, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { desc, eq, sql } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import { openSqlite } from '../db/sqlite.ts'
import { messageSelection } from './messages.ts'
import { sqliteDatabase } from './sql-database.ts'
import { SqliteStore } from './sqlite-store.ts'

// The reads and writes a request makes run statements built once. Building a query with drizzle
// and compiling it costs SQLite 50-200 µs a call, several times what the statement itself costs;
// a method that builds its query per call would bring that back on every request. Every query
// drizzle builds goes through the dialect's `sqlToQuery`, so a call that builds none leaves its
// count where it was. (On Postgres, raw statements are built with their values at each call by
// design: there the round trip, not the building, is the cost.)

let dir: string
let store: SqliteStore

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chat-statements-'))
  store = SqliteStore.open(join(dir, 'chat.db'))
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** How many queries `run` builds. */
async function queriesBuilt(run: () => Promise<unknown>): Promise<number> {
  const prototype = SQLiteSyncDialect.prototype
  const original = prototype.sqlToQuery
  let built = 0
  prototype.sqlToQuery = function (this: SQLiteSyncDialect, ...args: Parameters<typeof original>) {
    built++
    return original.apply(this, args)
  }
  try {
    await run()
  } finally {
    prototype.sqlToQuery = original
  }
  return built
}

it("should build no query for a request's reads, or a read marker, the second time they run", async () => {
  const { membership, moderation } = store
  const room = await membership.createPrivateRoom({ name: '거래', postId: null, ownerId: 'seller', members: ['buyer'], addedBy: 'seller' })
  if (room === 'blocked') throw new Error('unexpected block')
  const direct = await membership.directRoom({ a: 'seller', b: 'buyer', postId: 7, name: '직거래' })
  const sent = await store.appendMessage({
    roomId: room.id,
    userId: 'seller',
    email: 'seller@example.com',
    nickname: '판매자',
    profileUrl: null,
    body: '안녕하세요',
    clientMsgId: null,
    createdAt: Date.now(),
    viaService: false,
  })
  const rooms = [room.id, direct.room.id]
  const calls: Record<string, () => Promise<unknown>> = {
    getRoom: () => store.getRoom(room.id),
    listRooms: () => store.listRooms({ limit: 20, userId: 'buyer' }),
    listRoomsOfPost: () => store.listRooms({ limit: 20, after: 0, postId: 7 }),
    roleOf: () => membership.roleOf(room.id, 'buyer'),
    sanctionOf: () => moderation.sanctionOf(room.id, 'buyer', Date.now()),
    moderates: () => moderation.moderates('buyer', room.id),
    members: () => membership.members(direct.room.id),
    memberCounts: () => membership.memberCounts(rooms),
    membersOfRooms: () => membership.membersOfRooms(rooms),
    blocksOf: () => membership.blocksOf('buyer'),
    blockedEither: () => membership.blockedEither('seller', 'buyer'),
    findDirectRoom: () => membership.findDirectRoom('seller', 'buyer', 7),
    newestMessageId: () => membership.newestMessageId(),
    inbox: () => membership.inbox('buyer', { asOfId: sent.message.id, asOfAt: Date.now(), after: null, limit: 30 }),
    unreadTotal: () => membership.unreadTotal('buyer'),
    readStates: () => membership.readStates('buyer'),
    messagesByIds: () => store.messagesByIds([sent.message.id]),
    listMessages: () => store.listMessages(room.id, { limit: 50 }),
    recover: () => store.recover(room.id, 0, 50),
    changesAfter: () => store.changesAfter(room.id, 0, 50),
    markRead: () => membership.markRead(room.id, 'buyer', sent.message.id),
  }
  for (const call of Object.values(calls)) await call()
  const built: Record<string, number> = {}
  for (const [name, call] of Object.entries(calls)) built[name] = await queriesBuilt(call)
  expect(built).toEqual(Object.fromEntries(Object.keys(calls).map((name) => [name, 0])))
  // The count does see a query built per call.
  expect(await queriesBuilt(() => store.roomIdsOfPost(7))).toBeGreaterThan(0)
})

it('should read a page of messages, replies and system messages among them, exactly as drizzle maps their rows', async () => {
  const room = await store.createRoom({ name: '나눔', postId: null })
  const base = { roomId: room.room.id, email: 'a@example.com', nickname: '나눔이', profileUrl: null, clientMsgId: null, createdAt: Date.now(), viaService: false }
  const first = await store.appendMessage({ ...base, userId: 'giver', body: '책상 나눔해요', profileUrl: 'https://example.com/p.png' })
  await store.appendMessage({ ...base, userId: 'taker', body: '제가 가져갈게요', clientMsgId: 'c-1', replyTo: { id: first.message.id, userId: 'giver', nickname: '나눔이', body: '책상 나눔해요', deleted: false } })
  await store.appendMessage({ ...base, userId: '', body: '거래가 완료되었어요', system: { silent: true, data: { step: 'done' } }, viaService: true })
  await store.changeMessage({
    roomId: room.room.id,
    messageId: first.message.id,
    by: 'taker',
    service: false,
    change: { type: 'react', emoji: '👍', add: true },
    at: Date.now(),
    rules: { editWindowMs: 60_000, unsendWindowMs: 60_000, maxReactions: 20, fileRetentionMs: 0 },
  })
  const database = sqliteDatabase(openSqlite(join(dir, 'chat.db')))
  const { db, t } = database
  const { columns, q, joinQuote } = messageSelection(t)
  const prepared = db
    .select(columns)
    .from(t.messages)
    .leftJoin(q, joinQuote)
    .where(eq(t.messages.roomId, sql.placeholder('roomId')))
    .orderBy(desc(t.messages.id))
    .prepare()
  const mapped = await prepared.execute({ roomId: room.room.id })
  expect(mapped.length).toBe(3)
  expect(await database.selectRows(columns, prepared)({ roomId: room.room.id })).toEqual(mapped)
})
