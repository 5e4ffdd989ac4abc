import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildClient } from '../client/build.ts'
import type { Message } from '../client/src/index.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { alice, bob, createRoom, startTestServer, type TestServer } from './support/server.ts'

const dist = join(import.meta.dir, '..', 'client', 'dist')
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

describe('the built package', () => {
  let size: { minified: number; gzipped: number }
  beforeAll(async () => {
    size = await buildClient()
  }, 60_000)

  it('should stay under 10 KB minified and gzipped, with no import of anything at run time', () => {
    expect(size.gzipped).toBeLessThan(10 * 1024)
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
