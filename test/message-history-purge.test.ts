import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../src/logger.ts'
import { HistoryPurge } from '../src/store/history-purge.ts'
import { PostgresStore } from '../src/store/postgres-store.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import type { ChangeRequest } from '../src/store/messages.ts'
import type { Store } from '../src/store/store.ts'
import { createDatabase } from './support/cluster.ts'

// The original texts of edited and unsent messages are kept for service calls for
// DELETED_RETENTION_DAYS after the message's last change, then forgotten, a message's texts together.

const DAY = 86_400_000
const RETENTION_DAYS = 30

/** A fresh store of each kind, and how to remove it afterwards. */
const BACKENDS = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'chat-purge-'))
      return { store: (await SqliteStore.open(join(dir, 'chat.db'))) as Store, drop: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    name: 'Postgres',
    async open() {
      const db = await createDatabase()
      return { store: (await PostgresStore.open(db.url)) as Store, drop: db.drop }
    },
  },
]

for (const backend of BACKENDS) {
  describe(`kept texts of changed messages on ${backend.name}`, () => {
    let opened: Awaited<ReturnType<(typeof backend)['open']>> | undefined
    afterEach(async () => {
      await opened?.store.close()
      await opened?.drop()
      opened = undefined
    })

    it('should forget the texts of a message last changed before the retention, and keep those of one changed since', async () => {
      opened = await backend.open()
      const { store } = opened
      const { room } = await store.createRoom({ name: 'purge', postId: null })
      const sent = Date.now()
      const append = async (body: string) => (await store.appendMessage({ roomId: room.id, userId: 'u1', email: 'u1@example.com', nickname: 'U1', profileUrl: null, body, clientMsgId: null, createdAt: sent })).message
      const [edited, unsent] = [await append('계좌번호 110-123-456789'), await append('잘못 보낸 메시지')]
      const rules = { editWindowMs: Number.MAX_SAFE_INTEGER, unsendWindowMs: Number.MAX_SAFE_INTEGER, maxReactions: 20, fileRetentionMs: 0 }
      const change = (messageId: number, at: number, what: ChangeRequest['change']) => store.changeMessage({ roomId: room.id, messageId, by: 'u1', service: false, change: what, at, rules })
      await change(edited.id, sent + 1000, { type: 'edit', body: '계좌번호는 채팅으로 알려드릴 수 없어요' })
      await change(unsent.id, sent + 10 * DAY, { type: 'unsend' })
      const actions = async (id: number) => (await store.messageHistory(id)).map((h) => [h.action, h.body])
      expect(await actions(edited.id)).toEqual([
        ['created', '계좌번호 110-123-456789'],
        ['edited', '계좌번호는 채팅으로 알려드릴 수 없어요'],
      ])

      const purge = new HistoryPurge(store, RETENTION_DAYS, createLogger('silent'))
      // Just inside the edited message's retention: nothing goes.
      expect(await purge.purge(sent + 1000 + RETENTION_DAYS * DAY)).toBe(0)
      // Past it: the edited message's two texts go together; the one unsent later keeps its own.
      expect(await purge.purge(sent + 1001 + RETENTION_DAYS * DAY)).toBe(2)
      expect(await actions(edited.id)).toEqual([])
      expect(await actions(unsent.id)).toEqual([
        ['created', '잘못 보낸 메시지'],
        ['deleted', '잘못 보낸 메시지'],
      ])
      expect(await purge.purge(sent + 10 * DAY + 1 + RETENTION_DAYS * DAY)).toBe(2)
      expect(await actions(unsent.id)).toEqual([])
    })
  })
}
