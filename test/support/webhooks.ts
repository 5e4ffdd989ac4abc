import { join } from 'node:path'
import { until } from './wait.ts'

/** One webhook as the receiver recorded it. */
export interface Received {
  body: string
  id: string | null
  /** X-Chat-Event-Count: how many events a batch holds (absent for one event). */
  count: string | null
  signature: string | null
  at: number
}
type Reply = { status?: number; retryAfter?: string; delayMs?: number }

/** A webhook receiver process (webhook-receiver.ts) that can be stopped and started on the same port. */
export interface Receiver {
  url: string
  port: number
  /** Every webhook received since it (last) started; from the `from`th on, when given (0 is the first). */
  received(from?: number): Promise<Received[]>
  /** The next replies in order, then `always` (200 by default). */
  script(replies: Reply[], always?: Reply | null): Promise<void>
  stop(): Promise<void>
  start(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  let proc: ReturnType<typeof Bun.spawn> | undefined
  let port = 0
  const start = async () => {
    proc = Bun.spawn([process.execPath, join(import.meta.dir, 'webhook-receiver.ts'), String(port)], { stdout: 'pipe', stderr: 'inherit' })
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!/LISTENING (\d+)/.test(text)) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`webhook receiver exited: ${text}`)
      text += new TextDecoder().decode(value)
    }
    port = Number(/LISTENING (\d+)/.exec(text)![1])
  }
  await start()
  const base = () => `http://127.0.0.1:${port}`
  const receiver: Receiver = {
    get url() {
      return `${base()}/hook`
    },
    get port() {
      return port
    },
    received: async (from = 0) => (await (await fetch(`${base()}/received?from=${from}`)).json()) as Received[],
    script: async (replies, always = null) => void (await fetch(`${base()}/script`, { method: 'POST', body: JSON.stringify({ replies, always }) })),
    async stop() {
      proc?.kill('SIGKILL')
      await proc?.exited
    },
    start,
  }
  process.on('exit', () => proc?.kill('SIGKILL'))
  return receiver
}

/** Waits until `check` passes (it throws until then), up to `timeoutMs`. */
export const eventually = <T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> => until(check, { timeoutMs, intervalMs: 50 }) as Promise<T>
