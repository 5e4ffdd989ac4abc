import { Elysia } from 'elysia'
import { z } from 'zod'
import { problemResponse, unavailable } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import { StorageProblem } from '../../store/storage-problem.ts'
import type { Store } from '../../store/store.ts'

export interface Readiness {
  /** True once shutdown has begun: the instance should get no new traffic. */
  shuttingDown(): boolean
}

/** Why the instance should get no traffic now (the code it answers with and the reason it logs), or null when it is ready. */
async function notReadyBecause(store: Store, broker: Broker, readiness: Readiness): Promise<{ code: string; reason: string } | null> {
  if (readiness.shuttingDown()) return { code: 'not_ready', reason: 'shutting down' }
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error))
  try {
    await store.check()
  } catch (error) {
    // Storage that answers but cannot write says which: storage_full, storage_read_only, storage_damaged.
    return { code: error instanceof StorageProblem ? error.code : 'not_ready', reason: `storage: ${message(error)}` }
  }
  try {
    await broker.check()
  } catch (error) {
    return { code: 'not_ready', reason: `broker: ${message(error)}` }
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
        const verdict = await notReadyBecause(store, broker, readiness)
        const reason = verdict?.reason ?? null
        // The reason names files and hosts: it goes to the log, not to whoever asks.
        if (reason !== lastReason) {
          if (reason === null) logger.info('ready again', { was: lastReason })
          else logger.warn('not ready', { reason, code: verdict?.code })
          lastReason = reason
        }
        if (verdict === null) return { status: 'ready' as const }
        return problemResponse(unavailable(verdict.code, 'Not ready to serve; the reason is in the server log.'))
      },
      {
        detail: {
          summary: 'Readiness',
          description:
            'Storage (and Redis, when used) reachable and able to write, and not shutting down; otherwise 503 problem+json: `storage_full` (the disk is full), `storage_read_only` (the database refuses writes), `storage_damaged` (a write found damage), or `not_ready` for anything else, with the reason in the server log.',
          tags: ['operations'],
        },
      },
    )
    .get('/metrics', async () => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }), {
      detail: { summary: 'Prometheus metrics', description: 'Prometheus text exposition format.', tags: ['operations'] },
    })
}
