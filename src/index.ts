// First, before any library loads: see production.ts.
import './production.ts'
import { helpText, parseCommandLine, UsageError, usageMessage } from './cli.ts'
import { version } from './version.ts'
import { ConfigError, suggestSettings } from './config.ts'
import { createLogger } from './logger.ts'
import { createInstance, type Instance, ListenError } from './server.ts'
import { StartRefused } from './start-refused.ts'
import { DataFileInUse, holdDataFile } from './store/file-lock.ts'
import { InstancesRunning, INSTANCE_STALE_MS } from './store/instances.ts'
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

/**
 * A refusal a person must act on (a setting, a file, another process, a newer database): one log
 * line and exit status 2, which the systemd unit does not restart.
 */
function refuse(error: StartRefused): never {
  logger.error(error.message, error instanceof ListenError ? { address: error.address } : error instanceof DataFileInUse ? { path: error.path, pid: error.holder.pid } : {})
  process.exit(2)
}

/** Runs a one-shot command (not `serve`), exiting 0 when it is done. */
async function oneShot(run: () => Promise<void>): Promise<never> {
  try {
    await run()
  } catch (error) {
    if (error instanceof StartRefused) refuse(error)
    throw error
  }
  process.exit(0)
}

/** The SQLite file's lock for a command that must not run beside the server that holds it. */
function holdDataFileFor(name: string, path: string): () => void {
  try {
    return holdDataFile(path)
  } catch (error) {
    if (!(error instanceof DataFileInUse)) throw error
    throw new StartRefused(`${name}: database file ${path} is in use by a running server (pid ${error.holder.pid}, since ${error.holder.since}); stop it first`)
  }
}

if (command.kind === 'migrate') {
  await oneShot(async () => {
    // The store opens as a server's does (openStore applies what is missing, refuses a newer
    // database), and closes again.
    const release = config.DATABASE_URL ? () => {} : holdDataFileFor('migrate', config.DATABASE_PATH)
    try {
      const { store } = await openStore(config)
      await store.close()
      logger.info('migrations applied', { database: config.DATABASE_URL ? 'postgres' : config.DATABASE_PATH })
    } finally {
      release()
    }
  })
}

if (command.kind === 'renew-epoch') {
  const { force } = command
  await oneShot(async () => {
    // On SQLite a running server holds the file's lock; on Postgres each writes a heartbeat.
    const release = config.DATABASE_URL ? () => {} : holdDataFileFor('renew-epoch', config.DATABASE_PATH)
    const { store } = await openStore(config)
    try {
      const running = await store.instancesSeenSince(Date.now() - INSTANCE_STALE_MS)
      if (running.length > 0 && !force) throw new InstancesRunning('renew-epoch', running)
      if (running.length > 0) logger.warn('renewing the epoch although servers were seen lately (--force)', { instances: running.map((i) => `${i.host}:${i.pid}`) })
      // Clients reconnecting with the old epoch are told to reload rather than trust ids that repeat.
      const epoch = await store.renewEpoch()
      logger.info('storage epoch renewed', { epoch })
    } finally {
      await store.close()
      release()
    }
  })
}

if (command.kind === 'webhooks') {
  const { action } = command
  await oneShot(async () => {
    const { store } = await openStore(config)
    try {
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
    } finally {
      await store.close()
    }
  })
}

for (const { name, meant } of suggestSettings(process.env)) logger.warn(`${name} is not a setting; did you mean ${meant}?`, { name, meant })

// Signal handlers go in before the server listens, so a SIGTERM right after start is graceful too.
let instance: Instance | undefined
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
      await instance?.stop()
      clearTimeout(timer)
      logger.info('stopped')
      process.exit(0)
    } catch (err) {
      logger.error('shutdown failed', { err: err instanceof Error ? err : new Error(String(err)) })
      process.exit(1)
    }
  })
}

let listening
try {
  instance = await createInstance(config, { logger })
  listening = await instance.listen()
} catch (err) {
  // A port or a data file in use is a setting to fix, not a crash: status 2, which the systemd
  // unit does not restart.
  if (err instanceof StartRefused) refuse(err)
  logger.error('could not start', { err: err instanceof Error ? err : new Error(String(err)) })
  process.exit(1)
}
logger.info('listening', { url: listening.url.href, port: listening.port, database: config.DATABASE_URL ? 'postgres' : config.DATABASE_PATH, redis: Boolean(config.REDIS_URL), version })
