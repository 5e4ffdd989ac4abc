import type { Subprocess } from 'bun'

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
