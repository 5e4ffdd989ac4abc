import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Message } from '../client/src/index.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { alice, bob, createRoom, startTestServer, type TestServer } from './support/server.ts'

const clientDir = join(import.meta.dir, '..', 'client')
const dist = join(clientDir, 'dist')
const wsPackage = join(import.meta.dir, '..', 'node_modules', 'ws', 'wrapper.mjs')

/**
 * What an app on Node 20 (no global WebSocket) does with the built package: two users in a room,
 * the first one's connection cut between two sends. Prints `cut me` when it wants the cut, then
 * one JSON line with what each saw.
 */
const nodeApp = (base: string, roomId: number) => `
import WebSocket from ${JSON.stringify(pathToFileURL(wsPackage).href)}
import { createChatClient } from ${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)}
const as = (user) => createChatClient({ baseUrl: ${JSON.stringify(base)}, WebSocket, reconnect: { baseMs: 20, capMs: 200 }, auth: () => ({ query: user, headers: { 'x-user-id': user.user_id, 'x-nickname': encodeURIComponent(user.nickname), 'x-email': user.email } }) })
const until = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, 10)) }
const rooms = [as(${JSON.stringify(alice)}).room(${roomId}, { since: 0 }), as(${JSON.stringify(bob)}).room(${roomId}, { since: 0 })]
const seen = rooms.map((room) => { const ids = []; room.on('message', (m) => ids.push(m.id)); return ids })
const states = []
rooms[0].on('state', (s) => states.push(s))
const sent = [await rooms[0].send('from node'), await rooms[1].send('답장')]
console.log('cut me')
await until(() => states.includes('reconnecting'))
sent.push(await rooms[0].send('sent while cut'))
await until(() => seen.every((ids) => ids.length === 3))
for (const room of rooms) room.close()
console.log(JSON.stringify({ sent, seen, states, online: [...rooms[1].online.keys()] }))
`

/** What `npm pack` said it packed, and where the tarball is. */
interface Packed {
  filename: string
  files: { path: string }[]
  dir: string
}
let packing: Promise<Packed> | undefined

/**
 * The package packed by `npm pack`, once for the file: npm runs the package's `prepare` (the build)
 * before packing, so nothing is built first, and the built package's own checks read the dist/ that
 * build leaves (the build is the same either way, and takes 10 s of a core).
 */
function pack(): Promise<Packed> {
  packing ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-pack-'))
    rmSync(dist, { recursive: true, force: true })
    const said = await run(['npm', 'pack', '--json', '--pack-destination', dir], clientDir)
    // The build's own line comes first, then npm's JSON.
    const [packed] = JSON.parse(said.slice(said.indexOf('[\n'))) as Omit<Packed, 'dir'>[]
    return { ...packed!, dir }
  })()
  return packing
}
afterAll(async () => {
  if (packing) rmSync((await packing).dir, { recursive: true, force: true })
})

describe('the built package', () => {
  beforeAll(pack, 120_000)

  it('should stay under 10 KB minified and gzipped, with no import of anything at run time', () => {
    expect(Bun.gzipSync(readFileSync(join(dist, 'index.js'))).length).toBeLessThan(10 * 1024)
    const code = readFileSync(join(dist, 'index.js'), 'utf8')
    expect(code).not.toMatch(/\bimport\s*[\w*{("']|\brequire\(/)
    expect(code).not.toContain('zod')
  })

  it('should declare its types in one file that needs neither zod nor the server', () => {
    const declarations = readFileSync(join(dist, 'index.d.ts'), 'utf8')
    const code = declarations.replace(/\/\*[\s\S]*?\*\//g, '')
    expect(code.match(/^\s*import\b.*|^export\b.*\bfrom\s*['"].*|\bimport\(.*/gm)).toBeNull()
    // The protocol's shapes, printed in full from the server's schemas.
    expect(declarations).toContain('export type Message = {')
    const serverFrames = declarations.slice(declarations.indexOf('export type RoomServerFrame ='))
    expect(serverFrames.slice(0, serverFrames.indexOf('\n\n'))).toContain('| RecoveredFrame;')
    expect(declarations).toContain('export declare function createChatClient(')
  })

  describe('on Node 20 with the ws package', () => {
    let server: TestServer
    let proxy: FaultProxy
    let dir: string
    beforeAll(async () => {
      server = await startTestServer({ PRESENCE_GRACE_MS: '0' })
      proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
      dir = mkdtempSync(join(tmpdir(), 'client-node-'))
    })
    afterAll(async () => {
      await proxy.close()
      await server.destroy()
      rmSync(dir, { recursive: true, force: true })
    })

    it('should chat, recover from a cut connection and complete the send made meanwhile, exactly once', async () => {
      const roomId = await createRoom(server)
      const script = join(dir, 'app.mjs')
      writeFileSync(script, nodeApp(`http://127.0.0.1:${proxy.port}`, roomId))
      const node = Bun.spawn(['node', script], { stdout: 'pipe', stderr: 'pipe' })
      // A client that never finishes fails here rather than at the test's timeout, with what it said.
      const watchdog = setTimeout(() => node.kill(), 20_000)
      const lines: string[] = []
      let cut = 0
      const decoder = new TextDecoder()
      let buffered = ''
      for await (const chunk of node.stdout) {
        buffered += decoder.decode(chunk)
        const parts = buffered.split('\n')
        buffered = parts.pop()!
        for (const line of parts) {
          lines.push(line)
          if (line === 'cut me') cut = proxy.cut()
        }
      }
      clearTimeout(watchdog)
      const code = await node.exited
      expect({ code, stderr: await new Response(node.stderr).text(), lines: lines.length }).toEqual({ code: 0, stderr: '', lines: 2 })
      // Both users' sockets, and the connections Node's fetch keeps.
      expect(cut).toBeGreaterThanOrEqual(2)
      const result = JSON.parse(lines.at(-1)!) as { sent: Message[]; seen: number[][]; states: string[]; online: string[] }

      const history = (await server.http(`/chat/v1/room/${roomId}/messages/`).then((r) => r.json())) as Message[]
      expect(history.map((m) => [m.user_id, m.message])).toEqual([
        [alice.user_id, 'from node'],
        [bob.user_id, '답장'],
        [alice.user_id, 'sent while cut'],
      ])
      expect(result.sent).toEqual(history)
      for (const ids of result.seen) expect(ids).toEqual(history.map((m) => m.id))
      expect(result.states).toEqual(['open', 'reconnecting', 'open', 'closed'])
    }, 30_000)
  })
})

/** Runs a command (node, npm) to completion; its stdout, or an error with everything it said. */
async function run(cmd: string[], cwd: string): Promise<string> {
  const child = Bun.spawn(cmd, { cwd, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, npm_config_update_notifier: 'false' } })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited with ${code}\n${stdout}\n${stderr}`)
  return stdout
}

/** A new npm project in a temporary folder, as an app that uses the client would be. */
function newProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'client-app-'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'chat-app', private: true, type: 'module' }))
  return dir
}

/** The names the package exports, as an ES module script run by Node sees them. */
async function nodeImports(project: string): Promise<string[]> {
  writeFileSync(join(project, 'exports.mjs'), "console.log(JSON.stringify(Object.keys(await import('@gateway-chat/client')).sort()))\n")
  return JSON.parse(await run(['node', 'exports.mjs'], project)) as string[]
}

describe('installing the package', () => {
  const expectedExports = async () => Object.keys(await import('../client/src/index.ts')).sort()
  const projects: string[] = []
  afterAll(() => {
    for (const dir of projects) rmSync(dir, { recursive: true, force: true })
  })

  describe('from a tarball made by npm pack', () => {
    let packed: Packed
    let project: string
    let installed: string
    beforeAll(async () => {
      packed = await pack()
      project = newProject()
      projects.push(project)
      await run(['npm', 'install', '--no-audit', '--no-fund', join(packed.dir, packed.filename)], project)
      installed = join(project, 'node_modules', '@gateway-chat', 'client')
    }, 120_000)

    it('should pack the built files, the source map and the types, and no sources', () => {
      expect(packed.files.map((f) => f.path).sort()).toEqual(['README.md', 'dist/index.d.ts', 'dist/index.js', 'dist/index.js.map', 'package.json'])
    })

    it('should import in Node as an ES module, with every export of the sources', async () => {
      expect(lstatSync(installed).isSymbolicLink()).toBe(false)
      expect(await nodeImports(project)).toEqual(await expectedExports())
    })

    it('should type-check an app against its declarations, found through the package exports', async () => {
      writeFileSync(
        join(project, 'use.ts'),
        "import { createChatClient, type Message } from '@gateway-chat/client'\nexport const sent: Promise<Message> = createChatClient({ baseUrl: 'http://localhost' }).room(1).send('안녕')\n",
      )
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022'], types: [] }, files: ['use.ts'] }),
      )
      const tsc = join(import.meta.dir, '..', 'node_modules', 'typescript', 'bin', 'tsc')
      expect(await run(['node', tsc, '-p', project], project)).toBe('')
    }, 30_000)

    it('should ship a source map that holds the TypeScript sources, so errors point at them', async () => {
      const code = readFileSync(join(installed, 'dist', 'index.js'), 'utf8')
      expect(code.trimEnd().split('\n').at(-1)).toBe('//# sourceMappingURL=index.js.map')
      const map = JSON.parse(readFileSync(join(installed, 'dist', 'index.js.map'), 'utf8')) as { sources: string[]; sourcesContent: string[] }
      // Each source, taken relative to dist/ as a debugger does, is a file of client/src, its text inside the map.
      expect(map.sources.length).toBeGreaterThan(5)
      map.sources.forEach((source, i) => {
        const file = resolve(dist, source)
        expect(file.startsWith(`${join(clientDir, 'src')}/`) && file.endsWith('.ts')).toBe(true)
        expect({ source, content: map.sourcesContent[i] }).toEqual({ source, content: readFileSync(file, 'utf8') })
      })

      // A mistake in the app (no baseUrl outside a browser): Node's stack trace names the line of client/src/http.ts that threw.
      const http = readFileSync(join(clientDir, 'src', 'http.ts'), 'utf8').split('\n')
      const line = http.findIndex((l) => l.includes("throw new TypeError('baseUrl is required")) + 1
      expect(line).toBeGreaterThan(0)
      writeFileSync(join(project, 'mistake.mjs'), "import { createChatClient } from '@gateway-chat/client'\ntry { createChatClient({}) } catch (err) { console.log(err.stack) }\n")
      const stack = await run(['node', '--enable-source-maps', 'mistake.mjs'], project)
      expect(stack).toContain('baseUrl is required outside a browser page')
      expect(stack).toContain(`/node_modules/@gateway-chat/client/src/http.ts:${line}:`)
    }, 30_000)
  })

  describe('from the repository folder (npm install path/to/client)', () => {
    it('should build the package as it installs, and import in Node', async () => {
      rmSync(dist, { recursive: true, force: true })
      const project = newProject()
      projects.push(project)
      // npm links the folder and runs its `prepare`; bun and typescript come from the repository's own node_modules.
      await run(['npm', 'install', '--no-audit', '--no-fund', clientDir], project)
      const installed = join(project, 'node_modules', '@gateway-chat', 'client')
      expect(realpathSync(installed)).toBe(realpathSync(clientDir))
      for (const file of ['index.js', 'index.js.map', 'index.d.ts']) expect({ file, built: existsSync(join(dist, file)) }).toEqual({ file, built: true })
      expect(await nodeImports(project)).toEqual(await expectedExports())
    }, 120_000)
  })
})
