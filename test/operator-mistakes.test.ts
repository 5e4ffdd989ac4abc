import { afterAll, describe, expect, it } from 'bun:test'
import { SQL } from 'bun'
import { Database } from 'bun:sqlite'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pgMigrations, sqliteMigrations } from '../src/db/migrations.ts'
import { version } from '../src/version.ts'
import { STORES } from './support/cluster.ts'
import { attemptStart } from './support/process.ts'
import { createRoom, startTestServer } from './support/server.ts'

// Ordinary operator mistakes that must stop with one clear line and exit status 2 instead of
// splitting or damaging data: an older release on a newer database, renew-epoch beside running
// servers, a data file the server cannot use.
const entry = join(import.meta.dir, '..', 'src', 'index.ts')
const cleanup: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const step of cleanup.reverse()) await step()
})

/** Runs a chat-server command to its end: its status and everything it printed. */
async function command(args: string[], env: Record<string, string>): Promise<{ status: number; output: string }> {
  const proc = Bun.spawn([process.execPath, entry, ...args], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, status] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { status, output: out + err }
}

/** The output is one error line naming `words`, with no stack trace. */
function expectOneLine(output: string, ...words: string[]) {
  const lines = output.trim().split('\n')
  expect(lines).toHaveLength(1)
  const line = JSON.parse(lines[0]!) as { level: string; msg: string }
  expect(line.level).toBe('error')
  for (const word of words) expect(line.msg).toContain(word)
  expect(output).not.toMatch(/\n\s+at /)
}

/** A database of each store, as a server of this release leaves it, and how to reach it from a command. */
async function databaseOf(store: (typeof STORES)[number]) {
  const db = await store.database()
  const dir = mkdtempSync(join(tmpdir(), 'chat-ops-'))
  cleanup.push(async () => {
    await db.drop()
    rmSync(dir, { recursive: true, force: true })
  })
  const env: Record<string, string> = { ...db.env, DATABASE_PATH: join(dir, 'chat.db') }
  return { env, dir, sqlite: !db.env.DATABASE_URL }
}

for (const store of STORES) {
  describe(`schema version on ${store.name}`, () => {
    it('should record the schema version and the release that migrated the database', async () => {
      const { env, sqlite } = await databaseOf(store)
      const migrated = await command(['migrate'], env)
      expect(migrated.status).toBe(0)
      const expected = sqlite ? sqliteMigrations().length : pgMigrations().length
      const meta = sqlite ? sqliteMeta(env.DATABASE_PATH!) : await pgMeta(env.DATABASE_URL!)
      expect(meta).toEqual({ schema_version: expected, migrated_by: version })
    })

    it('should refuse to start, and to migrate, on a database a newer release migrated', async () => {
      const { env, sqlite } = await databaseOf(store)
      expect((await command(['migrate'], env)).status).toBe(0)
      // What a newer release leaves: one more migration in the bookkeeping, and its name in meta.
      const future = Date.now() + 365 * 86_400_000
      if (sqlite) {
        const db = new Database(env.DATABASE_PATH!)
        db.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('next', ?)", [future])
        db.run("UPDATE meta SET schema_version = schema_version + 1, migrated_by = '9.1.0'")
        db.close()
      } else {
        const sql = new SQL(env.DATABASE_URL!, { max: 1 })
        await sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('next', ${future})`
        await sql`UPDATE meta SET schema_version = schema_version + 1, migrated_by = '9.1.0'`
        await sql.close()
      }
      const known = sqlite ? sqliteMigrations().length : pgMigrations().length
      const start = await attemptStart(env)
      cleanup.push(() => start.stop())
      expect(start.status).toBe(2)
      expectOneLine(start.output, `schema version ${known + 1}`, 'chat-server 9.1.0 or newer', `up to ${known}`, 'backup')
      const migrate = await command(['migrate'], env)
      expect(migrate.status).toBe(2)
      expectOneLine(migrate.output, 'chat-server 9.1.0 or newer')
      // Nothing was written: the newer release still finds its database as it left it.
      const meta = sqlite ? sqliteMeta(env.DATABASE_PATH!) : await pgMeta(env.DATABASE_URL!)
      expect(meta).toEqual({ schema_version: known + 1, migrated_by: '9.1.0' })
    })
  })

  describe(`renew-epoch beside running servers on ${store.name}`, () => {
    it('should refuse while a server runs on the database, and renew once it stopped', async () => {
      const { env, dir } = await databaseOf(store)
      const server = await startTestServer(env, dir)
      cleanup.push(() => server.destroy())
      await createRoom(server, 'before the restore')
      const refused = await command(['renew-epoch'], env)
      expect(refused.status).toBe(2)
      expectOneLine(refused.output, 'renew-epoch', String(process.pid))
      await server.stop()
      const renewed = await command(['renew-epoch'], env)
      expect(renewed.status).toBe(0)
      expect(renewed.output).toContain('storage epoch renewed')
    })
  })
}

describe('renew-epoch --force on Postgres', () => {
  it('should renew with --force over a recent heartbeat, and ignore a stale one without it', async () => {
    const { env } = await databaseOf(STORES[1])
    expect((await command(['migrate'], env)).status).toBe(0)
    const sql = new SQL(env.DATABASE_URL!, { max: 1 })
    // A server killed a moment ago (no graceful stop): its row is fresh, so it may still be running.
    await sql`INSERT INTO instances (id, host, pid, version, started_at, seen_at) VALUES ('killed', 'app-3', 4242, ${version}, ${Date.now() - 60_000}, ${Date.now()})`
    const refused = await command(['renew-epoch'], env)
    expect(refused.status).toBe(2)
    expectOneLine(refused.output, 'app-3 pid 4242', '--force')
    const forced = await command(['renew-epoch', '--force'], env)
    expect(forced.status).toBe(0)
    expect(forced.output).toContain('storage epoch renewed')
    // A row not seen for a minute is a server long gone: no --force needed.
    await sql`UPDATE instances SET seen_at = ${Date.now() - 60_000}`
    expect((await command(['renew-epoch'], env)).status).toBe(0)
    await sql.close()
    expect((await command(['serve', '--force'], env)).status).toBe(2)
  })
})

describe('start-up file errors', () => {
  const base = mkdtempSync(join(tmpdir(), 'chat-files-'))
  cleanup.push(() => rmSync(base, { recursive: true, force: true }))

  async function refusedWith(path: string, ...words: string[]) {
    const start = await attemptStart({ DATABASE_PATH: path, PORT: '0' })
    cleanup.push(() => start.stop())
    expect(start.status).toBe(2)
    expectOneLine(start.output, path, ...words)
  }

  it('should name a read-only folder', async () => {
    const readOnly = join(base, 'read-only')
    mkdirSync(readOnly)
    // A read-only file system: file permissions do not stop root, a read-only mount does.
    const mounted = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', readOnly])
    expect(mounted.exitCode).toBe(0)
    cleanup.push(() => void Bun.spawnSync(['umount', readOnly]))
    await refusedWith(join(readOnly, 'chat.db'), 'read-only file system')
    await refusedWith(join(readOnly, 'missing', 'chat.db'), 'read-only file system')
  })

  it('should name a file that is not a database, and a damaged one', async () => {
    const garbage = join(base, 'garbage.db')
    writeFileSync(garbage, Buffer.alloc(64 * 1024, 0x5a))
    await refusedWith(garbage, 'not a SQLite database', 'backup')
    // A real database whose pages were overwritten after its header.
    const damaged = join(base, 'damaged.db')
    const server = await startTestServer({}, join(base, 'was-fine'))
    await createRoom(server, 'about to be damaged')
    await server.stop()
    const good = Bun.file(join(base, 'was-fine', 'chat.db'))
    const bytes = new Uint8Array(await good.arrayBuffer())
    bytes.fill(0xa5, 100, bytes.length)
    writeFileSync(damaged, bytes)
    await refusedWith(damaged, 'backup')
  })

  it('should name a path that is a folder', async () => {
    const folder = join(base, 'a-folder')
    mkdirSync(folder)
    await refusedWith(folder, 'cannot be opened')
  })
})

function sqliteMeta(path: string) {
  const db = new Database(path, { readonly: true })
  const row = db.query('SELECT schema_version, migrated_by FROM meta').get()
  db.close()
  return row
}

async function pgMeta(url: string) {
  const sql = new SQL(url, { max: 1 })
  const [row] = await sql`SELECT schema_version, migrated_by FROM meta`
  await sql.close()
  return { ...row }
}
