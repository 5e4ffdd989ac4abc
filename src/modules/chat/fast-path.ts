import type { ServerWebSocket } from 'bun'

/**
 * Bun's own callbacks for a socket's frames and close. One pair serves every socket of a route:
 * each finds what the route keeps for the socket in its data (`data.kept`, as `adopt` was given
 * it), so opening a socket makes no closures.
 */
export interface DirectHandlers<Kept> {
  message(socket: ServerWebSocket<{ kept: Kept }>, raw: string | Buffer): void
  close(socket: ServerWebSocket<{ kept: Kept }>, code: number): void
}

/**
 * Takes an open socket's events straight from Bun, past Elysia. Elysia 1.4 keeps, per socket, a
 * copy of the upgrade's request context (Request, headers, query…) in the socket's data, closures
 * over it (its `id` getter among them), and hands each frame to `ws.data.message` after an async JSON
 * parse and a new ElysiaWS wrapper with 13 bound methods. Measured with `bun bench/compare.ts`
 * (fan-out, 20 rooms x 10 clients, six alternating rounds, this build against one with `adopt`
 * always returning false): 18% more messages delivered a second (median; ahead in every round).
 * Here the socket's data keeps only what the route needs and Bun's two callbacks, so the context,
 * its Request and Headers included, can be collected.
 *
 * This reaches into Elysia's internals, so it checks their shape first: when it does not match,
 * nothing is changed, the route's own `message` and `close` handlers serve (slower, correct), and
 * this returns false. `fast-path.test.ts` fails when Elysia's shape changes, so an upgrade that
 * loses the fast path is noticed.
 */
export function adopt<Kept>(ws: { raw: unknown }, kept: Kept, handlers: DirectHandlers<Kept>): boolean {
  const raw = ws.raw as ServerWebSocket<Record<string, unknown>>
  const data = raw.data
  if (!data || typeof data.message !== 'function' || typeof data.close !== 'function') return false
  // Elysia's websocket handlers call data.message and data.close (and data.open, data.drain,
  // data.ping, data.pong when present); the rest of its data serves an ElysiaWS wrapper, no longer
  // made. A new object of one shape replaces it whole (deleting its keys instead would give every
  // socket's data a shape of its own), written out rather than spread: 48 bytes, not 64.
  raw.data = { kept, message: handlers.message, close: handlers.close }
  return true
}
