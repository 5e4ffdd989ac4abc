import { WebhookDispatcher } from './webhooks/dispatcher.ts'
import { createApp, type AppDeps } from './app.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'
import { createMetrics } from './metrics.ts'
import { CloseCode } from './realtime/codec.ts'
import { RedisBroker } from './realtime/redis-broker.ts'
import { RedisPresence } from './realtime/redis-presence.ts'
import { StartRefused } from './start-refused.ts'
import { holdDataFile } from './store/file-lock.ts'
import { InstanceHeartbeat } from './store/instances.ts'
import { openStore } from './store/open.ts'
import { loadTestPage } from './web/index.ts'

/** A running server and how to stop it. */
export interface RunningServer {
  url: URL
  port: number
  /**
   * Graceful stop: refuse new connections, close sockets with 1001 (clients reconnect with
   * since=), let in-flight requests finish, commit pending writes, close storage and Redis.
   */
  stop(): Promise<void>
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

/** Opens storage (and Redis), builds the app and listens; used by the entry point and by tests. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  // One process per SQLite file: a second one would split live delivery and presence without a word.
  const release = config.DATABASE_URL || config.DATABASE_PATH === ':memory:' ? () => {} : holdDataFile(config.DATABASE_PATH)
  try {
    return await serve(config, logger, release)
  } catch (err) {
    release()
    throw err
  }
}

async function serve(config: Config, logger: Logger, release: () => void): Promise<RunningServer> {
  const metrics = createMetrics()
  const webhooksOn = Boolean(config.WEBHOOK_URL && config.WEBHOOK_SECRET)
  const { store, sequenced } = await openStore(config, {
    webhooks: webhooksOn,
    observeBatch: (size, seconds) => {
      metrics.storeBatchSize.observe(size)
      metrics.storeCommitSeconds.observe(seconds)
    },
  })
  const deps: AppDeps = { config, store, logger, metrics, testPage: config.TEST_PAGE ? await loadTestPage() : undefined }
  if (config.REDIS_URL) {
    // The settings refuse REDIS_URL without DATABASE_URL; this is the store that makes it so.
    if (!sequenced) throw new Error('REDIS_URL needs DATABASE_URL')
    const broker = await RedisBroker.connect(config.REDIS_URL, config.REDIS_PREFIX, sequenced, logger)
    deps.broker = (deliver) => broker.deliverTo(deliver)
    deps.presence = await RedisPresence.connect(config.REDIS_URL, config.REDIS_PREFIX, config.PRESENCE_TTL, logger)
  }
  const running = createApp(deps)
  // Webhooks: the store writes events beside what they report; one dispatcher per instance sends them.
  let webhooks: WebhookDispatcher | undefined
  if (webhooksOn && config.WEBHOOK_URL && config.WEBHOOK_SECRET) {
    webhooks = new WebhookDispatcher(store, running.presence, { ...config, WEBHOOK_URL: config.WEBHOOK_URL, WEBHOOK_SECRET: config.WEBHOOK_SECRET }, metrics, logger)
    await webhooks.start()
    // A message committed here is looked at now rather than at the next look for due events.
    const dispatcher = webhooks
    running.consumers.connectWebhooks((roomId) => dispatcher.wakeRoom(roomId))
  }
  try {
    running.app.listen({ port: config.PORT, hostname: config.HOST })
  } catch (err) {
    const reason = listenReasons[(err as { code?: string }).code ?? '']
    if (reason) throw new ListenError(`${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`, reason)
    throw err
  }
  const server = running.app.server
  if (!server) throw new Error('server did not start')
  const heartbeat = new InstanceHeartbeat(store, logger)
  await heartbeat.start()
  let stopping: Promise<void> | undefined
  return {
    url: server.url,
    port: server.port ?? config.PORT,
    stop() {
      stopping ??= (async () => {
        running.lifecycle.stopping = true
        // No new connections; requests in flight finish, then their connections close.
        const drained = server.stop(false)
        // Presence lets go of this instance's users as it closes, rather than one leave per socket.
        running.tracker.stop()
        // Every socket, room and stream, gets 1001 (reconnect with since=); one that does not finish closing is cut.
        running.hub.closeAll(CloseCode.goingAway, 'server shutting down')
        // Storage stays open until what is in flight has been answered (bounded: the process
        // exits at SHUTDOWN_TIMEOUT whatever happens).
        await Promise.race([drained, Bun.sleep(Math.max(1, config.SHUTDOWN_TIMEOUT - 1) * 1000)])
        await webhooks?.stop()
        await running.profiles.flush()
        await heartbeat.stop()
        await store.close()
        release()
        await running.presence.close()
        await running.broker.close()
      })()
      return stopping
    },
  }
}
