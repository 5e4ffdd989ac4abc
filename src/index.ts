// First, before any library loads: see production.ts.
import './production.ts'
import { helpText, parseCommandLine, UsageError, usageMessage } from './cli.ts'
import { version } from './version.ts'
import { ConfigError, suggestSettings } from './config.ts'
import { migratePostgres, openPostgres } from './db/postgres.ts'
import { migrateSqlite, openSqlite } from './db/sqlite.ts'
import { createLogger } from './logger.ts'
import { ListenError, startServer, type RunningServer } from './server.ts'
import { StartRefused } from './start-refused.ts'
import { DataFileInUse } from './store/file-lock.ts'
import { openStore } from './store/open.ts'

let command
try {
  command = parseCommandLine(process.argv.slice(2), process.env)
} catch (error) {
  if (!(error instanceof UsageError || error instanceof ConfigError)) throw error
  process.stderr.write(usageMessage(error))
  process.exit(2)
}

if (command.kind === 'help') {
  process.stdout.write(helpText())
  process.exit(0)
}
if (command.kind === 'version') {
  process.stdout.write(`chat-server ${version} (bun ${Bun.version})\n`)
  process.exit(0)
}

const { config } = command
const logger = createLogger(config.LOG_LEVEL)

if (command.kind === 'migrate') {
  if (config.DATABASE_URL) {
    const db = openPostgres(config.DATABASE_URL)
    const applied = await migratePostgres(db)
    await db.$client.close()
    logger.info('migrations applied', { database: 'postgres', applied })
  } else {
    const db = openSqlite(config.DATABASE_PATH)
    migrateSqlite(db)
    db.$client.close()
    logger.info('migrations applied', { database: config.DATABASE_PATH })
  }
  process.exit(0)
}

if (command.kind === 'renew-epoch') {
  // Clients reconnecting with the old epoch are told to reload rather than trust ids that repeat.
  const store = await openStore(config)
  const epoch = await store.renewEpoch()
  await store.close()
  logger.info('storage epoch renewed', { epoch })
  process.exit(0)
}

if (command.kind === 'webhooks') {
  const store = await openStore(config)
  const { action } = command
  if (action.verb === 'dead') {
    for (let after = 0; ; ) {
      const page = await store.outbox.dead(200, after)
      for (const row of page) process.stdout.write(`${JSON.stringify({ id: row.id, type: row.type, key: row.key, attempts: row.attempts, last_error: row.lastError, created_at: new Date(row.createdAt).toISOString() })}\n`)
      if (page.length < 200) break
      after = page.at(-1)!.id
    }
  } else {
    const requeued = await store.outbox.requeue(action.ids, Date.now())
    logger.info('dead webhook events re-queued', { requeued })
  }
  await store.close()
  process.exit(0)
}

for (const { name, meant } of suggestSettings(process.env)) logger.warn(`${name} is not a setting; did you mean ${meant}?`, { name, meant })

// Signal handlers go in before the server listens, so a SIGTERM right after start is graceful too.
let server: RunningServer | undefined
let signalled = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (signalled) return
    signalled = true
    logger.info('shutting down', { signal, timeout_s: config.SHUTDOWN_TIMEOUT })
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting with work unfinished', { timeout_s: config.SHUTDOWN_TIMEOUT })
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT * 1000)
    try {
      await server?.stop()
      clearTimeout(timer)
      logger.info('stopped')
      process.exit(0)
    } catch (err) {
      logger.error('shutdown failed', { err: err instanceof Error ? err : new Error(String(err)) })
      process.exit(1)
    }
  })
}

try {
  server = await startServer(config, logger)
} catch (err) {
  // A port or a data file in use is a setting to fix, not a crash: status 2, which the systemd
  // unit does not restart.
  if (err instanceof StartRefused) {
    logger.error(err.message, err instanceof ListenError ? { address: err.address } : err instanceof DataFileInUse ? { path: err.path, pid: err.holder.pid } : {})
    process.exit(2)
  }
  logger.error('could not start', { err: err instanceof Error ? err : new Error(String(err)) })
  process.exit(1)
}
logger.info('listening', { url: server.url.href, port: server.port, database: config.DATABASE_URL ? 'postgres' : config.DATABASE_PATH, redis: Boolean(config.REDIS_URL), version })
