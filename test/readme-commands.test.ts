import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { freePort } from './support/nginx.ts'
import { spawnServer, type ServerProcess } from './support/process.ts'

// The README's shell blocks marked `sh runnable` work as printed on a fresh copy of the repository
// after `npm ci`, where only Node and npm are on the PATH (no global bun). `with-server` blocks run
// while `npm start` serves there (on a free port in place of 8000).
const root = join(import.meta.dir, '..')

interface Block {
  line: number
  withServer: boolean
  script: string
}

/** The runnable blocks of a Markdown text, with the line each starts at. */
export function runnableBlocks(markdown: string): Block[] {
  const blocks: Block[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```sh runnable( with-server)?\s*$/.exec(lines[i]!)
    if (!open) continue
    const end = lines.indexOf('```', i + 1)
    if (end === -1) throw new Error(`README.md:${i + 1}: a runnable block is never closed`)
    blocks.push({ line: i + 1, withServer: Boolean(open[1]), script: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

const blocks = runnableBlocks(readFileSync(join(root, 'README.md'), 'utf8'))
let copy: string

/** Node and npm's own folder, and the system's: what a machine with only Node and npm has. */
const PATH = [dirname(process.execPath.includes('bun') ? (Bun.which('node') ?? '/usr/bin/node') : process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':')

async function run(command: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 300_000) {
  const proc = Bun.spawn(command, { cwd, env: { PATH, HOME: process.env.HOME ?? '/root', ...env }, stdout: 'pipe', stderr: 'pipe', timeout: timeoutMs })
  const [out, err, status] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { status, output: out + err }
}

beforeAll(async () => {
  // The tracked files as they are in this working tree: what a clone of this commit holds.
  copy = mkdtempSync(join(tmpdir(), 'chat-readme-'))
  const listed = Bun.spawnSync(['git', 'ls-files', '-z'], { cwd: root }).stdout.toString().split('\0').filter(Boolean)
  for (const file of listed) {
    if (!existsSync(join(root, file))) continue
    mkdirSync(dirname(join(copy, file)), { recursive: true })
    copyFileSync(join(root, file), join(copy, file))
  }
  const installed = await run(['npm', 'ci', '--no-audit', '--no-fund'], copy)
  if (installed.status !== 0) throw new Error(`npm ci failed in the fresh copy:\n${installed.output}`)
}, 600_000)
afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true })
})

/**
 * Stops `npm start` and the server it runs: npm passes SIGTERM on and exits at once, while the
 * server finishes its graceful stop; it is gone once it has released the data file's lock.
 */
async function stopNpmStart(server: ServerProcess) {
  server.proc.kill('SIGTERM')
  await server.exited
  const lock = join(copy, 'data', 'chat.db.lock')
  for (let waited = 0; existsSync(lock); waited += 50) {
    if (waited > 15_000) throw new Error(`the server npm start ran still holds ${lock}`)
    await Bun.sleep(50)
  }
}

describe('README commands', () => {
  it('should mark the blocks a reader runs first', () => {
    // A marker typo would silently drop a block: the ones this file is about must be found.
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    expect(blocks.some((b) => b.withServer && b.script.includes('/chat/v1/create-room/'))).toBe(true)
    expect(blocks.some((b) => b.script.includes('npm run build'))).toBe(true)
    expect(Bun.which('bun', { PATH })).toBeNull()
  })

  for (const block of blocks) {
    it(`should run the block at README.md:${block.line} as printed${block.withServer ? ', with the server running' : ''}`, async () => {
      let server: ServerProcess | undefined
      let script = block.script
      if (block.withServer) {
        const port = freePort()
        server = await spawnServer(['npm', 'start'], { cwd: copy, env: { PORT: String(port), HOST: '127.0.0.1' } })
        script = script.replaceAll('localhost:8000', `localhost:${port}`)
      }
      try {
        const { status, output } = await run(['bash', '-euo', 'pipefail', '-c', script], copy)
        if (status !== 0) throw new Error(`README.md:${block.line} exited ${status}:\n${output}`)
        // curl exits 0 on an error status: no answer may be a problem document.
        expect(output).not.toContain('urn:chat:problem:')
        expect(output).not.toMatch(/command not found|No such file/)
      } finally {
        if (server) await stopNpmStart(server)
      }
    }, 300_000)
  }
})
