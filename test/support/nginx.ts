import type { Subprocess } from 'bun'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const deploy = join(import.meta.dir, '..', '..', 'deploy', 'nginx')

/** A free TCP port on loopback (bound, then released). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

/** Real nginx running the reference gateway config, rendered into a temp dir. */
export interface Gateway {
  base: string
  wsBase: string
  stop(): Promise<void>
}

export async function startGateway(options: { chatPort: number; jwtSecret: string; gatewaySecret: string }): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-nginx-'))
  const port = freePort()
  const values: Record<string, string> = {
    LISTEN: `127.0.0.1:${port}`,
    CHAT_UPSTREAM: `127.0.0.1:${options.chatPort}`,
    NJS_DIR: deploy,
    NGINX_MODULES: process.env.NGINX_MODULES ?? '/usr/lib/nginx/modules',
    NGINX_PID: join(dir, 'nginx.pid'),
  }
  // The same substitution envsubst makes, limited to these names.
  const config = readFileSync(join(deploy, 'chat-gateway.conf.template'), 'utf8').replace(/\$\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole)
  writeFileSync(join(dir, 'nginx.conf'), config)
  const proc: Subprocess = Bun.spawn(['nginx', '-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    env: { PATH: process.env.PATH ?? '', JWT_SECRET: options.jwtSecret, GATEWAY_SECRET: options.gatewaySecret },
    stdout: 'ignore',
    stderr: 'pipe',
  })
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break
    } catch {}
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`nginx did not start: ${await new Response(proc.stderr as ReadableStream).text()}`)
    }
    await Bun.sleep(50)
  }
  return {
    base,
    wsBase: `ws://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGQUIT')
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
