import { createApp } from './app.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'
import { createMetrics } from './metrics.ts'
import { CloseCode } from './realtime/protocol.ts'
import { SqliteStore } from './store/sqlite-store.ts'

/** A running server and how to stop it. */
export interface RunningServer {
  url: URL
  port: number
  /**
   * Graceful stop: refuse new connections, close sockets with 1001 (clients reconnect with
   * since=), let in-flight requests finish, commit pending writes, close storage.
   */
  stop(): Promise<void>
}

/** Opens storage, builds the app and listens; used by the entry point and by tests. */
export function startServer(config: Config, logger: Logger): RunningServer {
  const metrics = createMetrics()
  const store = SqliteStore.open(config.DATABASE_PATH, (size, seconds) => {
    metrics.storeBatchSize.observe(size)
    metrics.storeCommitSeconds.observe(seconds)
  })
  const app = createApp({ config, store, logger, metrics })
  app.listen({ port: config.PORT, hostname: config.HOST })
  const server = app.server
  if (!server) throw new Error('server did not start')
  let stopping: Promise<void> | undefined
  return {
    url: server.url,
    port: server.port ?? config.PORT,
    stop() {
      stopping ??= (async () => {
        app.lifecycle.stopping = true
        const drained = server.stop(false)
        app.hub.closeAll(CloseCode.goingAway, 'server shutting down')
        // Frames already received are being handled; let them reach the store's queue.
        await new Promise((resolve) => setImmediate(resolve))
        await store.close()
        await drained
      })()
      return stopping
    },
  }
}
