import { afterAll, beforeAll, describe, it } from 'bun:test'
import fc from 'fast-check'
import { type STORES, startStoreServer } from './cluster.ts'
import { describeOp, MembershipModel, ROOM_KEYS, runArb, ROOM_SETUP, USERS, type Op, type Outcome, type RoomKey, type Step } from './membership-model.ts'
import { identityHeaders, type TestServer, type TestUser } from './server.ts'
import { TestSocket, type Frame } from './socket.ts'
import { startReceiver, type Receiver } from './webhooks.ts'

// What each user can see of a room, through every path (history, inbox, badge, user streams and
// webhooks' offline_user_ids), checked after every step of random interleavings of member changes,
// blocks, reads, sends and user streams opening and closing, against the membership rule
// (SECURITY.md, "Who may use a room"; test/support/membership-model.ts). Each run has rooms and
// users of its own; a failure prints the steps, what each answered, and the first mismatch.

/** Fixed, so a failure repeats; VISIBILITY_SEED explores others. */
const SEED = Number(process.env.VISIBILITY_SEED ?? 20261130)
const NUM_RUNS = 80
const STEPS = { minLength: 15, maxLength: 30 }
/** How long a frame or a webhook the model expects may take to arrive. */
const WAIT_MS = 5000
/** After the first failure, how long shrinking may look for a shorter one. */
const SHRINK_MS = 45_000
const WEBHOOK_SECRET = 'webhook-secret-of-the-app-backend'
const SERVICE_SECRET = 'service-secret-of-the-app-backend'

type InboxEntry = { id: number; unread_count: number; last_read_id: number; last_message: { id: number } | null }

/** A message the model saw stored, with who had its room and who had blocked its sender then. */
interface Sent {
  id: number
  room: RoomKey
  sender: number
  audience: Set<number>
  blockers: Set<number>
}

/** One user stream socket and the frames the model expects on it (beyond its `inbox.ready`). */
interface Stream {
  user: number
  label: string
  socket: TestSocket
  open: boolean
  messages: Map<number, { room: number; unread: number }>
  /** Rooms gained while it was open (`inbox.room`), as the model says each should read. */
  rooms: { room: number; unread_count: number; last_read_id: number; last_message: number | null }[]
  removed: number[]
  reads: { room: number; last_read_id: number; unread_count: number }[]
}

class Mismatch extends Error {}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b)

/**
 * The property on one store. Each store's run is a test file of its own (visibility-property-*.test.ts),
 * so that the two, each a minute or more of requests, run side by side under `npm test`.
 */
export function describeWhatEachUserSees(store: (typeof STORES)[number]) {
  describe(`what each user sees on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver
    const tag = store.name.toLowerCase()
    let runs = 0
    /** Every message.created the receiver got, by message id (read on from `webhooksRead`). */
    const webhooks = new Map<number, { room: number; offline: string[] }[]>()
    let webhooksRead = 0

    beforeAll(async () => {
      receiver = await startReceiver()
      server = await startStoreServer(store, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, WEBHOOK_RETRY_MIN_MS: '100', WEBHOOK_TIMEOUT: '2', SERVICE_SECRET })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
    })

    /** Reads the webhooks that came since the last read (polled every few ms: only those cross the wire). */
    const readWebhooks = async () => {
      const fresh = await receiver.received(webhooksRead)
      webhooksRead += fresh.length
      for (const r of fresh) {
        const event = JSON.parse(r.body) as { type: string; data: { room: number; message?: { id: number }; offline_user_ids?: string[] } }
        if (event.type !== 'message.created' || !event.data.message) continue
        const list = webhooks.get(event.data.message.id) ?? []
        list.push({ room: event.data.room, offline: event.data.offline_user_ids ?? [] })
        webhooks.set(event.data.message.id, list)
      }
    }

    /** One run: fresh users and rooms, then each step, each followed by every check. */
    async function run({ streams: openAtStart, steps }: { streams: number[]; steps: Step[] }) {
      const runTag = `${tag}-${++runs}`
      const users: TestUser[] = Array.from({ length: USERS }, (_, i) => ({ user_id: `vis-${runTag}-u${i}`, nickname: `u${i}`, email: `u${i}.${runTag}@example.com` }))
      const as = (u: number) => identityHeaders(users[u]!)
      const name = (userId: string) => {
        const i = users.findIndex((u) => u.user_id === userId)
        return i < 0 ? userId : `u${i}`
      }
      const model = new MembershipModel()
      const roomIds = {} as Record<RoomKey, number>
      const sent = new Map<number, Sent>()
      const streams: Stream[] = []
      const trace: string[] = []
      const fail = (what: string): never => {
        throw new Mismatch(what)
      }

      for (const key of ROOM_KEYS) {
        const { kind, creator, others } = ROOM_SETUP[key]
        const members = others.map((u) => users[u]!.user_id)
        const res =
          kind === 'private'
            ? await server.post('/chat/v1/create-room/', { name: `${runTag}-${key}`, kind, members }, as(creator))
            : kind === 'direct'
              ? await server.post('/chat/v1/direct-room/', { user_id: members[0] }, as(creator))
              : await server.post('/chat/v1/create-room/', { name: `${runTag}-${key}` })
        if (res.status !== 201) throw new Error(`creating ${key} answered ${res.status}: ${await res.text()}`)
        roomIds[key] = ((await res.json()) as { id: number }).id
      }
      const keyOf = (id: number) => ROOM_KEYS.find((k) => roomIds[k] === id) ?? `room ${id}`
      const liveOf = (u: number) => streams.filter((s) => s.open && s.user === u)

      const request = async (op: Op): Promise<{ res: Response; outcome: Outcome }> => {
        const outcome = model.expect(op)
        let res: Response
        switch (op.op) {
          case 'add':
            res = await server.post(`/chat/v1/room/${roomIds[op.room]}/members/`, { user_id: users[op.user]!.user_id }, as(op.by))
            break
          case 'remove':
            res = await server.http(`/chat/v1/room/${roomIds[op.room]}/members/${users[op.user]!.user_id}/`, { method: 'DELETE', headers: as(op.by) })
            break
          case 'block':
          case 'unblock':
            res = await server.http(`/chat/v1/blocks/${users[op.user]!.user_id}/`, { method: op.op === 'block' ? 'PUT' : 'DELETE', headers: as(op.by) })
            break
          case 'read':
            res = await server.post(`/chat/v1/room/${roomIds[op.room]}/read/`, { last_read_id: 1e12 }, as(op.user))
            break
          case 'send':
            res = await server.post('/chat/v1/message/', { room: roomIds[op.room], message: `m${trace.length}` }, as(op.user))
            break
          default:
            throw new Error(`not a request: ${op.op}`)
        }
        trace[trace.length - 1] += ` → ${res.status}`
        const body = res.status === 204 ? '' : await res.clone().text()
        const code = res.status >= 400 ? (JSON.parse(body) as { code?: string }).code : undefined
        if (res.status !== outcome.status || code !== outcome.code) fail(`answered ${res.status} ${code ?? ''}${body && !code ? body : ''}; the rule says ${outcome.status} ${outcome.code ?? ''}`)
        return { res, outcome }
      }

      /** Performs one op, checks its answer, and notes what streams and webhooks must get for it. */
      const perform = async (op: Op) => {
        if (op.op === 'openStream') {
          if (liveOf(op.user).length >= 2) return void (trace[trace.length - 1] += ' (two already open: skipped)')
          const socket = await TestSocket.inbox(server, users[op.user]!)
          const ready = await socket.next('inbox.ready', WAIT_MS)
          const label = `u${op.user}'s stream #${streams.filter((s) => s.user === op.user).length + 1}`
          streams.push({ user: op.user, label, socket, open: true, messages: new Map(), rooms: [], removed: [], reads: [] })
          if (!same(ready.unread, model.badge(op.user))) fail(`${label}: inbox.ready says ${JSON.stringify(ready.unread)}; the rule says ${JSON.stringify(model.badge(op.user))}`)
          return
        }
        if (op.op === 'closeStream') {
          const stream = liveOf(op.user)[0]
          if (!stream) return void (trace[trace.length - 1] += ' (none open: skipped)')
          stream.open = false
          await stream.socket.close()
          return
        }
        const hadRoom = 'room' in op && model.has(op.room, op.user)
        const markerBefore = 'room' in op ? model.marker(op.room, op.user) : 0
        const { res, outcome } = await request(op)
        const message = op.op === 'send' && outcome.status === 201 ? ((await res.json()) as { id: number }) : null
        model.apply(op, outcome, message?.id)
        if (op.op === 'add' && outcome.status === 201) {
          for (const s of liveOf(op.user)) s.rooms.push({ room: roomIds[op.room], unread_count: model.unread(op.room, op.user), last_read_id: 0, last_message: model.preview(op.room, op.user) })
        }
        if (op.op === 'remove' && outcome.status === 204) for (const s of liveOf(op.user)) s.removed.push(roomIds[op.room])
        if (op.op === 'read' && outcome.status === 200) {
          const body = (await res.json()) as unknown
          const marker = model.marker(op.room, op.user)
          if (!same(body, { room: roomIds[op.room], last_read_id: marker, unread_count: 0 })) fail(`the read answered ${JSON.stringify(body)}; the rule says last_read_id ${marker}, unread_count 0`)
          for (const s of liveOf(op.user)) {
            if (!hadRoom) s.rooms.push({ room: roomIds[op.room], unread_count: 0, last_read_id: marker, last_message: model.preview(op.room, op.user) })
            else if (marker > markerBefore) s.reads.push({ room: roomIds[op.room], last_read_id: marker, unread_count: 0 })
          }
        }
        if (op.op === 'send' && message) await recordMessage(op, message.id, hadRoom)
      }

      /** A stored message: who may hear of it, on which streams, and its webhook. */
      const recordMessage = async (op: Extract<Op, { op: 'send' }>, id: number, hadRoom: boolean) => {
        const audience = new Set(model.rooms[op.room].markers.keys())
        const blockers = new Set(model.blockersIn(op.room, op.user))
        sent.set(id, { id, room: op.room, sender: op.user, audience, blockers })
        for (const s of streams.filter((s) => s.open && audience.has(s.user) && !blockers.has(s.user))) {
          s.messages.set(id, { room: roomIds[op.room], unread: model.unread(op.room, s.user) })
        }
        if (!hadRoom) for (const s of liveOf(op.user)) s.rooms.push({ room: roomIds[op.room], unread_count: 0, last_read_id: id, last_message: id })
        // Pushes go to everyone who had the room when it was sent, but its sender and whoever blocked them.
        const offline = sorted([...audience].filter((u) => u !== op.user && !blockers.has(u)))
        const deadline = Date.now() + WAIT_MS
        while (!webhooks.has(id)) {
          if (Date.now() > deadline) fail(`no message.created for message ${id} within ${WAIT_MS} ms`)
          await Bun.sleep(5)
          await readWebhooks()
        }
        const got = webhooks.get(id)!.map((w) => w.offline.map(name).sort())
        const want = offline.map((u) => `u${u}`)
        for (const ids of got) if (!same(ids, want)) fail(`message.created for message ${id} lists offline_user_ids ${JSON.stringify(ids)}; the rule says ${JSON.stringify(want)}`)
      }

      /** What is wrong with a stream's frames so far (`wrong`), and what has not arrived yet (`missing`). */
      const inspect = (s: Stream) => {
        const wrong: string[] = []
        const missing: string[] = []
        const frames = s.socket.frames.slice(s.socket.frames.findIndex((f) => f.type === 'inbox.ready') + 1)
        const seen = new Map<number, number>()
        const rooms: Frame[] = []
        const removed: number[] = []
        const reads: Stream['reads'] = []
        for (const f of frames) {
          if (f.type === 'inbox.message') {
            const m = f.message as { id: number; user_id: string }
            seen.set(m.id, (seen.get(m.id) ?? 0) + 1)
            const wanted = s.messages.get(m.id)
            if (wanted) {
              if (f.room !== wanted.room || f.unread_count !== wanted.unread)
                wrong.push(`${s.label} got inbox.message ${m.id} in ${keyOf(Number(f.room))} with unread_count ${f.unread_count}; the rule says ${keyOf(wanted.room)}, ${wanted.unread}`)
              continue
            }
            const record = sent.get(m.id)
            const why = !record
              ? 'a message of no room of this run'
              : !record.audience.has(s.user)
                ? `sent by ${name(m.user_id)} in ${record.room} when u${s.user} did not have that room`
                : record.blockers.has(s.user)
                  ? `sent by ${name(m.user_id)}, whom u${s.user} had blocked`
                  : 'sent while this stream was not open'
            wrong.push(`${s.label} got inbox.message ${m.id}: ${why}`)
          } else if (f.type === 'inbox.room') rooms.push(f)
          else if (f.type === 'inbox.removed') removed.push(Number(f.room))
          else if (f.type === 'inbox.read') reads.push({ room: Number(f.room), last_read_id: Number(f.last_read_id), unread_count: Number(f.unread_count) })
          else wrong.push(`${s.label} got an unexpected ${JSON.stringify(f)}`)
        }
        for (const [id, n] of seen) if (n > 1) wrong.push(`${s.label} got inbox.message ${id} ${n} times`)
        for (const [id, m] of s.messages) {
          // A room just gained may bring the message as its inbox.room's last_message instead.
          const covered = rooms.some((r) => (r.room as InboxEntry).id === m.room && ((r.room as InboxEntry).last_message?.id ?? 0) >= id)
          if (!seen.has(id) && !covered) missing.push(`inbox.message ${id} in ${keyOf(m.room)}`)
        }
        const gained = rooms.map((r) => {
          const e = r.room as InboxEntry
          return { room: e.id, unread_count: e.unread_count, last_read_id: e.last_read_id, last_message: e.last_message?.id ?? null }
        })
        const compare = <T>(what: string, got: T[], want: T[], show: (x: T) => string) => {
          if (got.length < want.length && same(got, want.slice(0, got.length))) missing.push(`${what} ${want.slice(got.length).map(show).join(', ')}`)
          else if (!same(got, want)) wrong.push(`${s.label} got ${what} ${got.map(show).join(', ') || 'none'}; the rule says ${want.map(show).join(', ') || 'none'}`)
        }
        compare('inbox.room', gained, s.rooms, (x) => `{${keyOf(x.room)} unread ${x.unread_count} marker ${x.last_read_id} last ${x.last_message}}`)
        compare('inbox.removed', removed, s.removed, (x) => keyOf(x))
        compare('inbox.read', reads, s.reads, (x) => `{${keyOf(x.room)} marker ${x.last_read_id} unread ${x.unread_count}}`)
        return { wrong, missing: missing.map((m) => `${s.label} has not got ${m}`) }
      }

      /** Waits until every stream got what the model expects, then finds anything it should not have. */
      const checkStreams = async () => {
        const deadline = Date.now() + WAIT_MS
        for (;;) {
          const found = streams.map(inspect)
          const wrong = found.flatMap((f) => f.wrong)
          const missing = found.flatMap((f) => f.missing)
          if (wrong.length > 0) fail(wrong.join('\n'))
          if (missing.length === 0) return
          if (Date.now() > deadline) fail(`within ${WAIT_MS} ms:\n${missing.join('\n')}`)
          await Bun.sleep(5)
        }
      }

      /** History, inbox and badge of every user, against the model. */
      const checkPaths = async () => {
        const problems: string[] = []
        const get = async (u: number, path: string) => {
          const res = await server.http(path, { headers: as(u) })
          return { status: res.status, body: (await res.json()) as unknown }
        }
        await Promise.all(
          Array.from({ length: USERS }, async (_, u) => {
            const [inbox, badge, ...histories] = await Promise.all([get(u, '/chat/v1/inbox/?limit=100'), get(u, '/chat/v1/unread/'), ...ROOM_KEYS.map((key) => get(u, `/chat/v1/room/${roomIds[key]}/messages/?limit=200`))])
            ROOM_KEYS.forEach((key, i) => {
              const { status, body } = histories[i]!
              const want = model.mayUse(key, u) ? { status: 200, body: model.rooms[key].messages.map((m) => `${m.id} by u${m.sender}`) } : { status: 403, body: 'not_a_member' }
              const got = { status, body: status === 200 ? (body as { id: number; user_id: string }[]).map((m) => `${m.id} by ${name(m.user_id)}`) : (body as { code: string }).code }
              if (!same(got, want)) problems.push(`u${u}'s history of ${key}: ${JSON.stringify(got)}; the rule says ${JSON.stringify(want)}`)
            })
            const entries = ((inbox.body as { rooms: InboxEntry[] }).rooms ?? []).map((e) => ({ room: keyOf(e.id), unread_count: e.unread_count, last_read_id: e.last_read_id, last_message: e.last_message?.id ?? null }))
            const want = model.roomsOf(u).map((key) => ({ room: key, unread_count: model.unread(key, u), last_read_id: model.marker(key, u), last_message: model.preview(key, u) }))
            entries.sort((a, b) => String(a.room).localeCompare(String(b.room)))
            want.sort((a, b) => a.room.localeCompare(b.room))
            if (inbox.status !== 200 || !same(entries, want)) problems.push(`u${u}'s inbox: ${inbox.status} ${JSON.stringify(entries)}; the rule says ${JSON.stringify(want)}`)
            if (badge.status !== 200 || !same(badge.body, model.badge(u))) problems.push(`u${u}'s badge: ${badge.status} ${JSON.stringify(badge.body)}; the rule says ${JSON.stringify(model.badge(u))}`)
          }),
        )
        if (problems.length > 0) fail(problems.join('\n'))
      }

      try {
        for (const step of [...openAtStart.map((user): Step => ({ op: 'openStream', user })), ...steps]) {
          const op = model.resolve(step)
          trace.push(`${trace.length + 1}. ${describeOp(op)}`)
          await perform(op)
          await checkStreams()
          await checkPaths()
        }
        // Late frames, and webhooks for nothing the model stored.
        await Bun.sleep(100)
        await checkStreams()
        await readWebhooks()
        for (const [id, list] of webhooks) {
          const room = ROOM_KEYS.find((k) => roomIds[k] === list[0]!.room)
          if (room && !sent.has(id)) fail(`message.created for message ${id} in ${room}, which the model never stored`)
        }
      } catch (err) {
        const what = err instanceof Mismatch ? err.message : `${(err as Error).stack ?? err}`
        throw new Error(
          `${store.name}, run ${runTag} (seed ${SEED}), users ${users.map((u, i) => `u${i}=${u.user_id}`).join(' ')}, rooms ${ROOM_KEYS.map((k) => `${k}=${roomIds[k]}`).join(' ')}:\n${trace.join('\n')}\nmismatch after the last step:\n${what}`,
        )
      } finally {
        await Promise.all(streams.filter((s) => s.open).map((s) => s.socket.close()))
      }
    }

    it('should show each user, through every path, exactly what the membership rule allows, after any interleaving of member changes, blocks, reads, sends and user streams', async () => {
      let failedAt: number | null = null
      await fc.assert(
        fc.asyncProperty(runArb(STEPS), async (input) => {
          // Past the budget, shrinking stops: the shortest failure found so far is reported.
          if (failedAt !== null && Date.now() - failedAt > SHRINK_MS) return
          try {
            await run(input)
          } catch (err) {
            failedAt ??= Date.now()
            throw err
          }
        }),
        { numRuns: NUM_RUNS, seed: SEED },
      )
      // The runs are some 60,000 requests, about 40 s of a core: sharing the machine with other
      // test files (npm test runs three at once) can take them past two minutes.
    }, 300_000)
  })
}
