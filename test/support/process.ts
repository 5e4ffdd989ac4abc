import type { Subprocess } from 'bun'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A server running as its own process, with its stdout lines collected. */
export interface ServerProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  port: number
  base: string
  wsBase: string
  /** Every stdout line so far. */
  lines: string[]
  exited: Promise<number>
}

/** Spawns `cmd` and waits for its "listening" log line. */
export async function spawnServer(cmd: string[], options: { cwd: string; env?: Record<string, string> }): Promise<ServerProcess> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, env: { PATH: process.env.PATH ?? '', ...options.env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const lines: string[] = []
  const { promise: listening, resolve: ready } = Promise.withResolvers<number>()
  void (async () => {
    let buffer = ''
    for await (const chunk of proc.stdout) {
      buffer += new TextDecoder().decode(chunk)
      let nl: number
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        lines.push(line)
        if (line.includes('"msg":"listening"')) ready(JSON.parse(line).port)
      }
    }
  })()
  const exited = proc.exited
  const port = await Promise.race([
    listening,
    exited.then(async (code) => {
      throw new Error(`server exited with ${code} before listening: ${await new Response(proc.stderr).text()}\n${lines.join('\n')}`)
    }),
  ])
  return { proc, port, base: `http://127.0.0.1:${port}`, wsBase: `ws://127.0.0.1:${port}`, lines, exited }
}

const entry = join(import.meta.dir, '..', '..', 'src', 'index.ts')

/** A server process that either stops (its status) or starts listening (status null); all it printed. */
export interface Attempt {
  status: number | null
  output: string
  stop(): Promise<void>
}

/** Starts the server with `env` and waits until it exits or logs that it is listening. */
export async function attemptStart(env: Record<string, string>): Promise<Attempt> {
  const proc = Bun.spawn([process.execPath, entry], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let output = ''
  const { promise: listening, resolve: heard } = Promise.withResolvers<null>()
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += new TextDecoder().decode(chunk)
      if (output.includes('"msg":"listening"')) heard(null)
    }
  }
  const drained = Promise.all([read(proc.stdout), read(proc.stderr)])
  const status = await Promise.race([listening, proc.exited.then(async (code) => (await drained, code))])
  return {
    status,
    output,
    async stop() {
      proc.kill('SIGKILL')
      await proc.exited
    },
  }
}
