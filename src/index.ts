import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './logger.ts'
import { startServer } from './server.ts'

let config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(2)
}

const logger = createLogger(config.LOG_LEVEL)
const server = startServer(config, logger)
logger.info('listening', { url: server.url.href, database: config.DATABASE_PATH })

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    logger.info('shutting down', { signal })
    await server.stop()
    process.exit(0)
  })
}
