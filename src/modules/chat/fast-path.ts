import type { ServerWebSocket } from 'bun'

/** Where a socket's frames and close go once adopted. */
export interface DirectHandlers {
  message(raw: string | Buffer): void
  close(code: number): void
}

/**
 * Takes an open socket's events straight from Bun, past Elysia. Elysia 1.4 keeps, per socket, a
 * copy of the upgrade's request context (Request, headers, query…) and closures over it, and hands
 * each frame to `ws.data.message` after an async JSON parse and a new ElysiaWS wrapper with 13
 * bound methods. Measured with `bun bench/compare.ts` (fan-out, 20 rooms x 10 clients, six
 * alternating rounds, this build against one with `adopt` always returning false): 18% more
 * messages delivered a second (median; ahead in every round), the same memory per idle socket
 * within noise. Here the socket's data keeps only what the route needs and two direct handlers.
 *
 * This reaches into Elysia's internals, so it checks their shape first: when it does not match,
 * nothing is changed, the route's own `message` and `close` handlers serve (slower, correct), and
 * this returns false. `fast-path.test.ts` fails when Elysia's shape changes, so an upgrade that
 * loses the fast path is noticed.
 */
export function adopt(ws: { raw: unknown }, keep: object, handlers: DirectHandlers): boolean {
  const data = (ws.raw as ServerWebSocket<Record<string, unknown>>).data
  if (!data || typeof data.message !== 'function' || typeof data.close !== 'function') return false
  // Elysia reads `id` and `validator` in its own handlers (ping, pong).
  for (const key of Object.keys(data)) if (key !== 'id' && key !== 'validator') Reflect.deleteProperty(data, key)
  Object.assign(data, keep)
  data.message = (_socket: unknown, raw: string | Buffer) => handlers.message(raw)
  data.close = (_socket: unknown, code: number) => handlers.close(code)
  return true
}
