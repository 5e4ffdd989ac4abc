import { Elysia } from 'elysia'
import { z } from 'zod'
import { problemResponse, unavailable } from '../../errors.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { Store } from '../../store/store.ts'

export interface Readiness {
  /** True once shutdown has begun: the instance should get no new traffic. */
  shuttingDown(): boolean
}

/** `/healthz`, `/readyz`, `/metrics`. */
export const opsRoutes = (store: Store, broker: Broker, metrics: Metrics, readiness: Readiness) =>
  new Elysia({ name: 'ops' })
    .get('/healthz', () => ({ status: 'ok' as const }), {
      response: { 200: z.object({ status: z.literal('ok') }) },
      detail: { summary: 'Liveness', description: 'The process is alive and serving HTTP.', tags: ['operations'] },
    })
    .get(
      '/readyz',
      async () => {
        if (readiness.shuttingDown()) return problemResponse(unavailable('shutting_down', 'The server is shutting down.'))
        try {
          await store.check()
        } catch (error) {
          return problemResponse(unavailable('storage_unavailable', error instanceof Error ? error.message : String(error)))
        }
        try {
          await broker.check()
        } catch (error) {
          return problemResponse(unavailable('broker_unavailable', error instanceof Error ? error.message : String(error)))
        }
        return { status: 'ready' as const }
      },
      { detail: { summary: 'Readiness', description: 'Storage (and Redis, when used) reachable; 503 problem+json with the reason otherwise.', tags: ['operations'] } },
    )
    .get(
      '/metrics',
      async () => new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }),
      { detail: { summary: 'Prometheus metrics', description: 'Prometheus text exposition format.', tags: ['operations'] } },
    )
