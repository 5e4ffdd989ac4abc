import { afterAll, describe, expect, it } from 'bun:test'
import { SQL } from 'bun'
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, POSTGRES_ADMIN_URL } from './support/cluster.ts'
import { alice, createRoom, identityHeaders, startTestServer, storedIds, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { eventually } from './support/webhooks.ts'

// Readiness means the server can write: a full disk, a database that refuses writes, are reported
// as such (readiness, the refused write), not as "cannot be reached", and heal by themselves.
const cleanup: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const step of cleanup.reverse()) await step()
})

const readiness = async (server: TestServer) => {
  const res = await server.http('/readyz')
  return { status: res.status, code: res.status === 200 ? null : ((await res.json()) as { code: string }).code }
}
const send = (server: TestServer, room: number, message: string) => server.post('/chat/v1/message/', { room, message }, identityHeaders(alice))

describe('a full disk under SQLite', () => {
  it('should answer 507 storage_full and readiness storage_full, keep every acknowledged message, and heal when space is freed', async () => {
    const mount = mkdtempSync(join(tmpdir(), 'chat-full-'))
    // A small file system of the test's own (root may mount tmpfs; file permissions would not stop root).
    expect(Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mount]).exitCode).toBe(0)
    cleanup.push(() => {
      Bun.spawnSync(['umount', '-l', mount])
      rmSync(mount, { recursive: true, force: true })
    })
    const server = await startTestServer({}, mount)
    cleanup.push(() => server.stop())
    const room = await createRoom(server, '가득 찬 디스크')
    expect(await readiness(server)).toEqual({ status: 200, code: null })
    const socket = await TestSocket.connect(server, room, alice)
    cleanup.push(() => socket.close())

    // Fill the disk: what dd could not write is exactly what is left.
    const filler = join(mount, 'filler')
    Bun.spawnSync(['dd', 'if=/dev/zero', `of=${filler}`, 'bs=64k'], { stderr: 'ignore' })
    expect(await readiness(server)).toEqual({ status: 503, code: 'storage_full' })

    // Writes go on until the database itself finds no room; none is acknowledged and then lost.
    const acknowledged: number[] = []
    let refused: Response | undefined
    for (let i = 0; i < 2000 && !refused; i++) {
      const res = await send(server, room, `${'가'.repeat(1000)} ${i}`)
      if (res.status === 201) acknowledged.push(((await res.json()) as { id: number }).id)
      else refused = res
    }
    expect(refused?.status).toBe(507)
    expect(await refused!.json()).toMatchObject({ code: 'storage_full' })
    socket.sendMessage('over the socket while full')
    expect(await socket.next('chat.error')).toMatchObject({ code: 'storage_full' })

    unlinkSync(filler)
    await eventually(async () => expect(await readiness(server)).toEqual({ status: 200, code: null }))
    const res = await send(server, room, 'after the disk was freed')
    expect(res.status).toBe(201)
    const stored = await storedIds(server, room)
    for (const id of acknowledged) expect(stored).toContain(id)
  }, 60_000)
})

describe('a read-only Postgres', () => {
  it('should answer 503 storage_read_only and readiness storage_read_only, then heal when it takes writes again', async () => {
    const db = await createDatabase()
    const name = new URL(db.url).pathname.slice(1)
    const admin = new SQL(POSTGRES_ADMIN_URL, { max: 1 })
    const server = await startTestServer({ DATABASE_URL: db.url })
    cleanup.push(async () => {
      await server.stop()
      await admin.close()
      await db.drop()
    })
    const room = await createRoom(server, '읽기 전용')
    expect((await send(server, room, 'before')).status).toBe(201)
    // As after a failover to a standby: every new session refuses writes.
    const reconnectAll = () => admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`)
    await admin.unsafe(`ALTER DATABASE ${name} SET default_transaction_read_only = on`)
    await reconnectAll()
    await eventually(async () => {
      const res = await send(server, room, 'while read-only')
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ code: 'storage_read_only' })
    })
    expect(await readiness(server)).toEqual({ status: 503, code: 'storage_read_only' })

    await admin.unsafe(`ALTER DATABASE ${name} RESET default_transaction_read_only`)
    await reconnectAll()
    // A session the pool opened while the reset was committing may still be read-only: ended again until none is.
    await eventually(async () => {
      const ready = await readiness(server)
      if (ready.status !== 200) await reconnectAll()
      expect(ready).toEqual({ status: 200, code: null })
    })
    expect((await send(server, room, 'writable again')).status).toBe(201)
  }, 60_000)
})
