import { readFileSync } from 'node:fs'

/**
 * Watches servers from a process of its own, which does nothing else, so that what it measures is
 * the servers and not a busy test: each one's resident memory (/proc/<pid>/status, every 10 ms) and
 * how long each `GET /healthz` takes (one after another, 20 ms apart). Run:
 * `bun test/support/server-watch.ts <ms> <pid>=<base url> …`; prints one JSON line at the end.
 */
export interface Watched {
  pid: number
  maxRssBytes: number
  /** Each /healthz in milliseconds (a failed one counts as Infinity). */
  healthzMs: number[]
}

/** Watches each server (pid and base URL) for `ms` milliseconds from another process. */
export async function watchServers(ms: number, servers: { pid: number; base: string }[]): Promise<Watched[]> {
  const proc = Bun.spawn([process.execPath, import.meta.path, String(ms), ...servers.map((s) => `${s.pid}=${s.base}`)], { stdout: 'pipe', stderr: 'inherit' })
  const text = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`server-watch failed: ${text}`)
  // JSON has no Infinity: a failed /healthz came as null.
  return (JSON.parse(text) as { pid: number; maxRssBytes: number; healthzMs: (number | null)[] }[]).map((w) => ({ ...w, healthzMs: w.healthzMs.map((t) => t ?? Number.POSITIVE_INFINITY) }))
}

/** The resident memory of a process, from /proc. */
function rssOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!kb) throw new Error(`no VmRSS for ${pid}`)
  return Number(kb[1]) * 1024
}

async function watch(ms: number, pid: number, base: string): Promise<Watched> {
  const deadline = Date.now() + ms
  let maxRssBytes = rssOf(pid)
  const sampler = setInterval(() => (maxRssBytes = Math.max(maxRssBytes, rssOf(pid))), 10)
  const healthzMs: number[] = []
  while (Date.now() < deadline) {
    const started = performance.now()
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(30_000) })
      await res.text()
      healthzMs.push(res.ok ? performance.now() - started : Number.POSITIVE_INFINITY)
    } catch {
      healthzMs.push(Number.POSITIVE_INFINITY)
    }
    await Bun.sleep(20)
  }
  clearInterval(sampler)
  return { pid, maxRssBytes, healthzMs }
}

if (import.meta.main) {
  const [ms, ...servers] = process.argv.slice(2)
  const watched = await Promise.all(
    servers.map((s) => {
      const at = s.indexOf('=')
      return watch(Number(ms), Number(s.slice(0, at)), s.slice(at + 1))
    }),
  )
  console.log(JSON.stringify(watched))
}
