import { Elysia } from 'elysia'
import { z } from 'zod'
import { problemResponse, unavailable } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { Store } from '../../store/store.ts'

export interface Readiness {
  /** True once shutdown has begun: the instance should get no new traffic. */
  shuttingDown(): boolean
}

/** Why the instance should get no traffic now, or null when it is ready. */
async function notReadyBecause(store: Store, broker: Broker, readiness: Readiness): Promise<string | null> {
  if (readiness.shuttingDown()) return 'shutting down'
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error))
  try {
    await store.check()
  } catch (error) {
    return `storage: ${message(error)}`
  }
  try {
    await broker.check()
  } catch (error) {
    return `broker: ${message(error)}`
  }
  return null
}

/** `/healthz`, `/readyz`, `/metrics`. */
export const opsRoutes = (store: Store, broker: Broker, metrics: Metrics, readiness: Readiness, logger: Logger) => {
  /** The last reason logged, so a probe every second logs a change of state, not every answer. */
  let lastReason: string | null = null
  return new Elysia({ name: 'ops' })
    .get('/healthz', () => ({ status: 'ok' as const }), {
      response: { 200: z.object({ status: z.literal('ok') }) },
      detail: { summary: 'Liveness', description: 'The process is alive and serving HTTP.', tags: ['operations'] },
    })
    .get(
      '/readyz',
      async () => {
        const reason = await notReadyBecause(store, broker, readiness)
        // The reason names files and hosts: it goes to the log, not to whoever asks.
        if (reason !== lastReason) {
          if (reason === null) logger.info('ready again', { was: lastReason })
          else logger.warn('not ready', { reason })
          lastReason = reason
        }
        if (reason === null) return { status: 'ready' as const }
        return problemResponse(unavailable('not_ready', 'Not ready to serve; the reason is in the server log.'))
      },
      {
        detail: {
          summary: 'Readiness',
          description: 'Storage (and Redis, when used) reachable and not shutting down; otherwise 503 problem+json `not_ready`, with the reason in the server log.',
          tags: ['operations'],
        },
      },
    )
    .get(
      '/metrics',
      async () => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }),
      { detail: { summary: 'Prometheus metrics', description: 'Prometheus text exposition format.', tags: ['operations'] } },
    )
}
