import { createApp } from './app.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'
import { SqliteStore } from './store/sqlite-store.ts'

/** A running server and how to stop it. */
export interface RunningServer {
  url: URL
  port: number
  stop(): Promise<void>
}

/** Opens storage, builds the app and listens; used by the entry point and by tests. */
export function startServer(config: Config, logger: Logger): RunningServer {
  const store = SqliteStore.open(config.DATABASE_PATH)
  const app = createApp({ config, store, logger })
  app.listen({ port: config.PORT, hostname: config.HOST })
  const server = app.server
  if (!server) throw new Error('server did not start')
  return {
    url: server.url,
    port: server.port ?? config.PORT,
    async stop() {
      await app.stop(true)
      await store.close()
    },
  }
}
