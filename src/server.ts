import { realClock, type Clock } from './clock.ts'
import { UploadCleaner } from './modules/uploads/cleaner.ts'
import { Files } from './modules/uploads/files.ts'
import { HistoryPurge } from './store/history-purge.ts'
import { WebhookDispatcher } from './webhooks/dispatcher.ts'
import { createApp, type AppDeps } from './app.ts'
import type { Config } from './config.ts'
import { createLogger, type Logger } from './logger.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { CloseCode } from './realtime/codec.ts'
import { RedisBroker } from './realtime/redis-broker.ts'
import { RedisPresence } from './realtime/redis-presence.ts'
import { StartRefused } from './start-refused.ts'
import { holdDataFile } from './store/file-lock.ts'
import { InstanceHeartbeat } from './store/instances.ts'
import { openStore } from './store/open.ts'
import type { Store } from './store/store.ts'
import { loadTestPage } from './web/index.ts'

/** Where a listening instance answers. */
interface Listening {
  url: URL
  port: number
}

/** A running server and how to stop it (`Instance.stop`). */
export interface RunningServer extends Listening {
  stop(): Promise<void>
}

/**
 * One server instance, built from its settings (`createInstance`): storage opened, Redis connected
 * when set, the app and its sockets, the webhook dispatcher when webhooks are on. Not listening
 * until `listen`.
 */
export interface Instance {
  /** The Elysia app: every route and socket. */
  readonly app: ReturnType<typeof createApp>['app']
  readonly store: Store
  readonly metrics: Metrics
  /** Starts the webhook dispatcher, listens on HOST:PORT (ListenError when it cannot), then writes the heartbeat. */
  listen(): Promise<Listening>
  /**
   * Graceful stop, once however often called: refuse new connections, close sockets with 1001
   * (clients reconnect with since=), let in-flight requests finish, commit pending writes, close
   * storage and Redis. Also stops an instance that never listened.
   */
  stop(): Promise<void>
}

/** What an instance takes besides its settings. */
export interface InstanceOptions {
  /** Where it logs; by default JSON lines to stdout at LOG_LEVEL. */
  logger?: Logger
  /** The clock of its uploads (expiry, signed URLs, cleaning); tests move it on. */
  clock?: Clock
}

/**
 * The server could not bind HOST:PORT (in use, not allowed, no such address): a setting to fix or
 * another process to stop, which restarting will not cure.
 */
export class ListenError extends StartRefused {
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`cannot listen on ${address}: ${reason}`)
    this.name = 'ListenError'
  }
}

const listenReasons: Record<string, string> = {
  EADDRINUSE: 'the port is already in use by another process (stop it, pick another PORT, or set REUSE_PORT=true to share it within a cluster)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'HOST is not an address of this machine',
}

/** Builds an instance and listens; what tests start in process (the entry point does the same in its own steps). */
export async function startServer(config: Config, logger: Logger, clock?: Clock): Promise<RunningServer> {
  const instance = await createInstance(config, { logger, clock })
  try {
    const { url, port } = await instance.listen()
    return { url, port, stop: () => instance.stop() }
  } catch (err) {
    await instance.stop()
    throw err
  }
}

/**
 * Builds a whole instance from its settings: holds the SQLite file (one process per file), opens
 * the store once (openStore, as every command does), connects Redis when set, builds the app and
 * the webhook dispatcher. Everything it opened is closed again if a later step fails.
 */
export async function createInstance(config: Config, { logger = createLogger(config.LOG_LEVEL), clock = realClock }: InstanceOptions = {}): Promise<Instance> {
  // One process per SQLite file: a second one would split live delivery and presence without a word.
  const release = config.DATABASE_URL || config.DATABASE_PATH === ':memory:' ? () => {} : holdDataFile(config.DATABASE_PATH)
  const opened: { close(): Promise<void> }[] = []
  try {
    return await build(config, logger, clock, release, opened)
  } catch (err) {
    for (const part of opened.reverse()) await part.close().catch(() => {})
    release()
    throw err
  }
}

async function build(config: Config, logger: Logger, clock: Clock, release: () => void, opened: { close(): Promise<void> }[]): Promise<Instance> {
  const metrics = createMetrics()
  const webhooksOn = Boolean(config.WEBHOOK_URL && config.WEBHOOK_SECRET)
  const { store, sequenced } = await openStore(config, {
    webhooks: webhooksOn,
    logger,
    observeBatch: (size, seconds) => {
      metrics.storeBatchSize.observe(size)
      metrics.storeCommitSeconds.observe(seconds)
    },
  })
  opened.push(store)
  const deps: AppDeps = { config, store, logger, metrics, files: Files.open(config, clock), testPage: config.TEST_PAGE ? await loadTestPage() : undefined }
  if (config.REDIS_URL) {
    // The settings refuse REDIS_URL without DATABASE_URL; this is the store that makes it so.
    if (!sequenced) throw new Error('REDIS_URL needs DATABASE_URL')
    const broker = await RedisBroker.connect(config.REDIS_URL, config.REDIS_PREFIX, sequenced, logger)
    opened.push(broker)
    deps.broker = (consumers) => broker.deliverTo(consumers)
    deps.presence = await RedisPresence.connect(config.REDIS_URL, config.REDIS_PREFIX, config.PRESENCE_TTL, logger)
    opened.push(deps.presence)
  }
  const running = createApp(deps)
  // Webhooks: the store writes events beside what they report; one dispatcher per instance sends them.
  let webhooks: WebhookDispatcher | undefined
  if (webhooksOn && config.WEBHOOK_URL && config.WEBHOOK_SECRET) {
    const dispatcher = new WebhookDispatcher(store, running.presence, { ...config, WEBHOOK_URL: config.WEBHOOK_URL, WEBHOOK_SECRET: config.WEBHOOK_SECRET }, metrics, logger, running.files.links, running.broker)
    webhooks = dispatcher
    // A message committed here is looked at now rather than at the next look for due events.
    running.consumers.connectWebhooks(dispatcher)
    // So are the events a transaction here wrote (a room's, a member's, a report's) once it committed.
    store.outbox.written = (lanes) => running.consumers.written(lanes)
  }
  const heartbeat = new InstanceHeartbeat(store, logger)
  const purge = new HistoryPurge(store, config.DELETED_RETENTION_DAYS, logger)
  const cleaner = new UploadCleaner(store, running.files.storage, clock, logger)
  let server: ReturnType<typeof createApp>['app']['server'] = null
  let stopping: Promise<void> | undefined
  return {
    app: running.app,
    store,
    metrics,
    async listen() {
      await webhooks?.start()
      try {
        running.app.listen({ port: config.PORT, hostname: config.HOST })
      } catch (err) {
        const reason = listenReasons[(err as { code?: string }).code ?? '']
        if (reason) throw new ListenError(`${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`, reason)
        throw err
      }
      server = running.app.server
      if (!server) throw new Error('server did not start')
      await heartbeat.start()
      purge.start()
      cleaner.start()
      return { url: server.url, port: server.port ?? config.PORT }
    },
    stop() {
      stopping ??= (async () => {
        running.lifecycle.stopping = true
        // No new connections; requests in flight finish, then their connections close.
        const drained = server?.stop(false)
        // Presence lets go of this instance's users as it closes, rather than one leave per socket.
        running.tracker.stop()
        // Every socket, room and stream, gets 1001 (reconnect with since=); one that does not finish closing is cut.
        running.hub.closeAll(CloseCode.goingAway, 'server shutting down')
        // Storage stays open until what is in flight has been answered (bounded: the process
        // exits at SHUTDOWN_TIMEOUT whatever happens).
        if (drained) await Promise.race([drained, Bun.sleep(Math.max(1, config.SHUTDOWN_TIMEOUT - 1) * 1000)])
        await webhooks?.stop()
        await running.profiles.flush()
        purge.stop()
        cleaner.stop()
        if (server) await heartbeat.stop()
        await store.close()
        release()
        await running.presence.close()
        await running.broker.close()
      })()
      return stopping
    },
  }
}
