import type { Server, ServerWebSocket } from 'bun'

/** What a socket upgraded by `upgradeDirect` keeps: the route's own state and its three callbacks. */
interface DirectData<State> {
  state: State
  open(socket: ServerWebSocket<DirectData<State>>): void
  message(socket: ServerWebSocket<DirectData<State>>, raw: string | Buffer): void
  close(socket: ServerWebSocket<DirectData<State>>, code: number): void
}

/** The callbacks of a route's sockets: one set serves them all, each finding its state in the socket's data. */
export type DirectHandlers<State> = Omit<DirectData<State>, 'state'>

/**
 * Upgrades a request to a socket whose events reach `handlers` straight from Bun, past Elysia's
 * `ws()`: Bun's websocket callbacks, which Elysia 1.4 installs, call `data.open`, `data.message` and
 * `data.close` of the socket (and `drain`, `ping`, `pong` when present), so a socket whose data
 * carries them needs nothing else. An Elysia `ws()` route makes, per socket, a copy of the request
 * context (Request, headers, query…) with ten closures over it as the socket's data, an ElysiaWS
 * wrapper with 13 bound methods for every event, and hands each frame over after an async JSON parse.
 * Here the data is one object of four fields, `state` the route's, so opening a socket makes no
 * closures and leaves no context behind. `open` may replace the socket's data with an object of the
 * route's whose prototype is `handlers` (the chat route's session): the callbacks are found there. Measured with
 * `bun bench/compare.ts` when frames alone came this way: 18% more messages delivered a second.
 *
 * `fast-path.test.ts` fails when Elysia's websocket callbacks stop calling these.
 */
export function upgradeDirect<State>(server: Server<unknown>, request: Request, state: State, handlers: DirectHandlers<State>, headers?: Record<string, string>): boolean {
  // Written out rather than spread: one shape for every socket, and no room for more fields.
  const data: DirectData<State> = { state, open: handlers.open, message: handlers.message, close: handlers.close }
  return server.upgrade(request, { headers, data })
}
