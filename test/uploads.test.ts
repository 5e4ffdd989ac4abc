import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import ExifReader from 'exifreader'
import { ManualClock } from '../src/clock.ts'
import type { AttachmentDto, MessageDto } from '../src/realtime/codec.ts'
import { gif, jpeg, png, webp, withJpegMetadata } from '../src/uploads/image-fixtures.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { startS3Server, type S3TestServer } from './support/s3-server.ts'
import { alice, bob, carol, createRoom, identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { until } from './support/wait.ts'
import { startReceiver, type Receiver } from './support/webhooks.ts'

// Photos and files: uploaded, judged from their bytes, stripped of metadata, sent with messages
// once, by their uploader, and fetched through signed URLs that expire; on local disk and on S3,
// over SQLite and Postgres.

const SERVICE_SECRET = 'service-secret-of-the-app-backend'
const WEBHOOK_SECRET = 'webhook-secret-of-the-app-backend'
const MINUTE = 60_000

type Storage = 'local' | 's3'

/** An ELF program's first bytes: what a file claiming image/png may really be. */
const elf = () => {
  const bytes = new Uint8Array(4096)
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
  return bytes
}

/** A minimal PDF: allowed by default besides photos, as a file. */
const pdf = () => new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')

for (const store of STORES) {
  for (const storage of ['local', 's3'] as const satisfies Storage[]) {
    describe(`uploads on ${store.name}, ${storage} storage`, () => {
      let s3: S3TestServer | undefined
      let server: TestServer
      let quick: TestServer
      let receiver: Receiver
      const clock = new ManualClock(Date.now())

      const storageEnv = async (): Promise<Record<string, string>> => {
        if (storage === 'local') return {}
        s3 ??= await startS3Server()
        return { UPLOADS: 's3', S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_REGION: s3.region, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey }
      }

      beforeAll(async () => {
        receiver = await startReceiver()
        const env = await storageEnv()
        ;[server, quick] = await Promise.all([
          // The uploads' clock is the test's: expiry, retention and the cleaner move when it says.
          startStoreServer(store, { ...env, SERVICE_SECRET, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, MAX_UPLOAD_BYTES: String(2 * 1024 * 1024), UPLOAD_TTL_SECONDS: '600', DELETED_RETENTION_DAYS: '0.01' }, clock),
          // URLs that live a second, and a small daily allowance.
          startStoreServer(store, { ...env, FILE_URL_TTL_SECONDS: '1', UPLOAD_BYTES_PER_DAY: String(64 * 1024) }),
        ])
      })
      afterAll(async () => {
        await Promise.all([server?.destroy(), quick?.destroy()])
        await receiver?.stop()
        await s3?.stop()
      })

      const upload = (on: TestServer, user: TestUser, bytes: Uint8Array, contentType: string, name: string) =>
        on.http(`/chat/v1/uploads/?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { ...identityHeaders(user), 'content-type': contentType }, body: bytes as Uint8Array<ArrayBuffer> })
      const uploaded = async (on: TestServer, user: TestUser, bytes: Uint8Array, contentType: string, name: string) => {
        const res = await upload(on, user, bytes, contentType, name)
        if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`)
        return (await res.json()) as AttachmentDto
      }
      const send = (on: TestServer, user: TestUser, room: number, message: string, attachments: string[]) => on.post('/chat/v1/message/', { room, message, attachments }, identityHeaders(user))
      const sent = async (on: TestServer, user: TestUser, room: number, message: string, attachments: string[]) => {
        const res = await send(on, user, room, message, attachments)
        if (res.status !== 201) throw new Error(`send answered ${res.status}: ${await res.text()}`)
        return (await res.json()) as MessageDto
      }
      /** A file URL as a browser would fetch it: absolute (local URLs are this server's paths), no headers. */
      const fetchUrl = (on: TestServer, url: string) => fetch(url.startsWith('/') ? on.base + url : url)
      const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code
      /** A fetched thumbnail's width and height, read from its own bytes (a JPEG's frame, a PNG's header). */
      const thumbnailSize = async (res: Response) => {
        const tags = ExifReader.load(await res.arrayBuffer())
        return [tags['Image Width']?.value, tags['Image Height']?.value]
      }
      /** Whether the upload's file is still stored. */
      const stored = async (on: TestServer, id: string) => {
        const key = `f/${id.slice(0, 2)}/${id}`
        if (storage === 'local') return existsSync(join(on.dir, 'uploads', `${key}.bin`))
        return (await s3!.objectKeys()).includes(key)
      }

      it('should strip the GPS position and every other EXIF field of a photo but its orientation', async () => {
        const photo = withJpegMetadata(await jpeg(640, 480), 6)
        expect(ExifReader.load(photo.slice().buffer as ArrayBuffer).GPSLatitude).toBeDefined()
        const a = await uploaded(server, alice, photo, 'image/jpeg', '자전거 사진.jpg')
        // Orientation 6 is a quarter turn: the photo shows 480 wide.
        expect(a).toMatchObject({ kind: 'image', content_type: 'image/jpeg', name: '자전거 사진.jpg', width: 480, height: 640 })
        const res = await fetchUrl(server, a.url)
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toBe('image/jpeg')
        const back = new Uint8Array(await res.arrayBuffer())
        expect(back.length).toBe(a.size)
        const tags = ExifReader.load(back.slice().buffer as ArrayBuffer)
        expect(tags.GPSLatitude).toBeUndefined()
        expect(tags.GPSLongitude).toBeUndefined()
        expect(tags.Make).toBeUndefined()
        expect(tags.Orientation?.value).toBe(6)
        const thumbnail = await fetchUrl(server, a.thumbnail_url!)
        expect(thumbnail.status).toBe(200)
        expect(thumbnail.headers.get('content-type')).toBe('image/jpeg')
        // Upright too: 320 px on its longer side, as the photo shows.
        expect(await thumbnailSize(thumbnail)).toEqual([240, 320])
      })

      it('should measure PNG, WebP and GIF photos and make thumbnails of at most 320 px', async () => {
        // Each with the thumbnail it gets: its longer side scaled to 320 px, or as it is when smaller.
        const cases = [
          { bytes: await png(1000, 500), type: 'image/png', size: [1000, 500], thumbnail: [320, 160] },
          { bytes: await webp(300, 700), type: 'image/webp', size: [300, 700], thumbnail: [137, 320] },
          { bytes: gif(64, 48), type: 'image/gif', size: [64, 48], thumbnail: [64, 48] },
          { bytes: gif(800, 400), type: 'image/gif', size: [800, 400], thumbnail: [320, 160] },
        ]
        for (const { bytes, type, size, thumbnail: thumbnailSides } of cases) {
          // The header's claim does not matter: what the bytes are does.
          const a = await uploaded(server, alice, bytes, 'application/octet-stream', 'photo')
          const [width, height] = size
          expect(a).toMatchObject({ kind: 'image', content_type: type, width, height })
          expect(a.thumbnail_url).not.toBeNull()
          const thumbnail = await fetchUrl(server, a.thumbnail_url!)
          expect(thumbnail.status).toBe(200)
          expect({ type, sides: await thumbnailSize(thumbnail) }).toEqual({ type, sides: thumbnailSides })
        }
      })

      it('should refuse a program that claims to be a PNG, and types not allowed, with 415', async () => {
        const res = await upload(server, alice, elf(), 'image/png', 'cute.png')
        expect(res.status).toBe(415)
        expect(await codeOf(res)).toBe('unsupported_type')
        const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...new Uint8Array(60)])
        expect((await upload(server, alice, zip, 'application/zip', 'a.zip')).status).toBe(415)
        // PDF is allowed by default, as a file (downloaded, never shown inline).
        const doc = await uploaded(server, alice, pdf(), 'application/pdf', '견적서.pdf')
        expect(doc).toMatchObject({ kind: 'file', content_type: 'application/pdf', width: null, height: null, thumbnail_url: null })
        const res2 = await fetchUrl(server, doc.url)
        expect(res2.headers.get('content-disposition')).toStartWith('attachment;')
        expect(new Uint8Array(await res2.arrayBuffer())).toEqual(pdf())
      })

      it('should answer 413 to an upload declared larger than MAX_UPLOAD_BYTES, before reading it', async () => {
        const big = new Uint8Array(3 * 1024 * 1024)
        const res = await upload(server, alice, big, 'image/jpeg', 'big.jpg')
        expect(res.status).toBe(413)
        // Chunked, with no length declared: cut off where the limit is passed.
        const chunks = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 48; i++) controller.enqueue(new Uint8Array(64 * 1024))
            controller.close()
          },
        })
        const chunked = await fetch(`${server.base}/chat/v1/uploads/?name=x`, { method: 'POST', headers: { ...identityHeaders(alice), 'content-type': 'image/jpeg' }, body: chunks })
        expect(chunked.status).toBe(413)
      })

      it('should refuse uploads past the daily allowance with 429', async () => {
        const photo = await png(100, 100)
        let total = 0
        let status = 201
        while (status === 201) {
          const res = await upload(quick, carol, photo, 'image/png', 'p.png')
          status = res.status
          if (status === 201) total += ((await res.json()) as AttachmentDto).size
          else expect(await codeOf(res)).toBe('upload_quota_exceeded')
        }
        expect(status).toBe(429)
        expect(total).toBeLessThanOrEqual(64 * 1024)
        expect(total + photo.length).toBeGreaterThan(64 * 1024 - photo.length)
        // Another user's allowance is their own.
        expect((await upload(quick, bob, photo, 'image/png', 'p.png')).status).toBe(201)
      })

      it('should send photos with a message once, by their uploader only, to history, sockets, the inbox and webhooks', async () => {
        const room = await createRoom(server, 'market')
        const watcher = await TestSocket.connect(server, room, bob)
        await watcher.barrier()
        const [a, b] = await Promise.all([uploaded(server, alice, await png(800, 600), 'image/png', '앞.png'), uploaded(server, alice, await jpeg(640, 480), 'image/jpeg', '뒤.jpg')])
        // Someone else's upload is as unknown as a missing one.
        const stolen = await send(server, bob, room, '', [a.id])
        expect(stolen.status).toBe(422)
        expect(await codeOf(stolen)).toBe('upload_not_found')
        const message = await sent(server, alice, room, '', [a.id, b.id])
        expect(message).toMatchObject({ kind: 'image', message: '' })
        expect(message.attachments.map((x) => x.id)).toEqual([a.id, b.id])
        // Twice: refused, and nothing stored for it.
        const twice = await send(server, alice, room, 'again', [a.id])
        expect(twice.status).toBe(409)
        expect(await codeOf(twice)).toBe('upload_already_attached')
        // Live, with the attachments and their URLs.
        const frame = await watcher.next((f) => f.type === 'chat.message' && f.id === message.id)
        expect(frame.kind).toBe('image')
        expect((frame.attachments as AttachmentDto[]).map((x) => x.name)).toEqual(['앞.png', '뒤.jpg'])
        expect((await fetchUrl(server, (frame.attachments as AttachmentDto[])[0]!.url)).status).toBe(200)
        // History: fresh URLs that work.
        const history = (await (await server.http(`/chat/v1/room/${room}/messages/`, { headers: identityHeaders(bob) })).json()) as MessageDto[]
        expect(history.map((m) => m.id)).toEqual([message.id])
        const again = history[0]!.attachments[1]!
        expect(again).toMatchObject({ id: b.id, kind: 'image', width: 640, height: 480 })
        expect((await fetchUrl(server, again.url)).status).toBe(200)
        // A replay after a reconnect carries them too.
        const late = await TestSocket.connect(server, room, carol, { since: '0' })
        const replayed = await late.next((f) => f.type === 'chat.message' && f.id === message.id)
        expect((replayed.attachments as AttachmentDto[]).length).toBe(2)
        // The inbox's last message.
        const inbox = (await (await server.http('/chat/v1/inbox/', { headers: identityHeaders(alice) })).json()) as { rooms: { id: number; last_message: MessageDto | null }[] }
        expect(inbox.rooms.find((r) => r.id === room)?.last_message?.attachments.map((x) => x.id)).toEqual([a.id, b.id])
        // The webhook, with signed URLs the app's backend can fetch.
        const hook = await until(async () => {
          for (const r of await receiver.received()) {
            const event = JSON.parse(r.body) as { type: string; data: { message: MessageDto | null } }
            if (event.type === 'message.created' && event.data.message?.id === message.id) return event.data.message
          }
          return false
        })
        expect(hook.attachments.map((x) => x.id)).toEqual([a.id, b.id])
        expect((await fetchUrl(server, hook.attachments[0]!.url)).status).toBe(200)
        // The message as history reads it (sent from memory or read back alike), but for URLs signed afresh.
        const unsigned = (m: MessageDto) => ({ ...m, attachments: m.attachments.map(({ url, thumbnail_url, ...rest }) => ({ ...rest, signed: [url, thumbnail_url].map((u) => (u ? new URL(u, 'http://x').pathname : u)) })) })
        expect(unsigned(hook)).toEqual(unsigned(history[0]!))
        await Promise.all([watcher.close(), late.close()])
      })

      it('should refuse a photo from someone removed from a private room, and let them send it elsewhere', async () => {
        const created = await server.post('/chat/v1/create-room/', { name: '팀', kind: 'private', members: [bob.user_id] }, identityHeaders(alice))
        const room = ((await created.json()) as { id: number }).id
        const photo = await uploaded(server, bob, await png(30, 30), 'image/png', 'p.png')
        const removed = await server.http(`/chat/v1/room/${room}/members/${bob.user_id}/`, { method: 'DELETE', headers: identityHeaders(alice) })
        expect(removed.status).toBe(204)
        const refused = await send(server, bob, room, '', [photo.id])
        expect(refused.status).toBe(403)
        expect(await codeOf(refused)).toBe('not_a_member')
        // All or none: with another user's upload beside it, nothing is claimed.
        const mixed = await send(server, bob, await createRoom(server, 'mixed'), '', [photo.id, (await uploaded(server, carol, await png(8, 8), 'image/png', 'c.png')).id])
        expect(mixed.status).toBe(422)
        expect(await codeOf(mixed)).toBe('upload_not_found')
        // Nothing was stored, and the upload was let go: it is still bob's to send.
        const history = (await (await server.http(`/chat/v1/room/${room}/messages/`, { headers: identityHeaders(alice) })).json()) as MessageDto[]
        expect(history).toEqual([])
        const open = await createRoom(server, 'elsewhere')
        expect((await sent(server, bob, open, '', [photo.id])).attachments.map((x) => x.id)).toEqual([photo.id])
      })

      it('should send a file over the socket with an empty text, as kind file', async () => {
        const room = await createRoom(server, 'files')
        const doc = await uploaded(server, alice, pdf(), 'application/pdf', '계약서.pdf')
        const photo = await uploaded(server, alice, await png(20, 20), 'image/png', 'p.png')
        const socket = await TestSocket.connect(server, room, alice)
        await socket.barrier()
        socket.send({ type: 'chat.message', message: '', attachments: [doc.id, photo.id] })
        const frame = await socket.next('chat.message')
        expect(frame.kind).toBe('file')
        expect((frame.attachments as AttachmentDto[]).map((x) => x.kind)).toEqual(['file', 'image'])
        // An empty text without attachments is still refused.
        socket.send({ type: 'chat.message', message: '' })
        expect((await socket.next('chat.error')).code).toBe('message_empty')
        socket.send({ type: 'chat.message', message: 'x', attachments: [doc.id] })
        expect((await socket.next('chat.error')).code).toBe('upload_already_attached')
        await socket.close()
      })

      it('should let a copied URL of a private room work until it expires, then answer 403, and 403 at once when altered', async () => {
        const created = await quick.post('/chat/v1/create-room/', { name: '비공개', kind: 'private', members: [bob.user_id] }, identityHeaders(alice))
        expect(created.status).toBe(201)
        const room = ((await created.json()) as { id: number }).id
        const photo = await uploaded(quick, alice, await png(50, 50), 'image/png', 'p.png')
        const message = await sent(quick, alice, room, '사진', [photo.id])
        const url = message.attachments[0]!.url
        const altered = url.replace(/([?&](?:signature|X-Amz-Signature)=)(.)/, (_, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'))
        expect(altered).not.toBe(url)
        expect((await fetchUrl(quick, altered)).status).toBe(403)
        const other = url.replace(/([?&](?:expires|X-Amz-Expires)=)(\d+)/, (_, head: string, n: string) => head + String(Number(n) + 3600))
        expect((await fetchUrl(quick, other)).status).toBe(403)
        if (storage === 'local') {
          // Without its signature at all. (On S3 that is the bucket's own policy: the test server,
          // s3rver, lets anyone read, where a private bucket refuses.)
          const bare = new URL(url, quick.base)
          bare.searchParams.delete('signature')
          expect((await fetch(bare)).status).toBe(403)
          bare.search = ''
          expect((await fetch(bare)).status).toBe(403)
        }
        // Carol is no member: she cannot read the room for a fresh URL…
        expect((await quick.http(`/chat/v1/room/${room}/messages/`, { headers: identityHeaders(carol) })).status).toBe(403)
        // …and the copied one, after it expired (one second here), is refused her as anyone.
        await Bun.sleep(2500)
        const late = await fetchUrl(quick, url)
        expect(late.status).toBe(403)
        // A member reading the message again gets a fresh one.
        const [fresh] = (await (await quick.http(`/chat/v1/room/${room}/messages/`, { headers: identityHeaders(bob) })).json()) as MessageDto[]
        expect((await fetchUrl(quick, fresh!.attachments[0]!.url)).status).toBe(200)
      })

      it("should delete an unsent message's files once DELETED_RETENTION_DAYS have passed", async () => {
        const room = await createRoom(server, 'unsent')
        const photo = await uploaded(server, carol, await png(40, 40), 'image/png', 'p.png')
        const message = await sent(server, carol, room, '', [photo.id])
        const unsent = await server.http(`/chat/v1/room/${room}/messages/${message.id}/`, { method: 'DELETE', headers: identityHeaders(carol) })
        expect(unsent.status).toBe(204)
        const [read] = (await (await server.http(`/chat/v1/room/${room}/messages/`, { headers: identityHeaders(carol) })).json()) as MessageDto[]
        expect(read).toMatchObject({ deleted: true, attachments: [] })
        // Kept through the retention (0.01 days: 864 s; the unsend is stamped with the real time, so
        // this test runs before any other moves the clock far)…
        await clock.advance(10 * MINUTE)
        expect(await stored(server, photo.id)).toBe(true)
        // …and deleted after it.
        await clock.advance(6 * MINUTE)
        await until(async () => !(await stored(server, photo.id)), { what: "the unsent message's file to be deleted" })
      })
      it('should delete uploads never sent after their expiry, and refuse to send them', async () => {
        const room = await createRoom(server, 'expired')
        const photo = await uploaded(server, bob, await png(40, 40), 'image/png', 'p.png')
        // One sent with a message: linked to it, never cleaned up as unsent.
        const kept = await uploaded(server, bob, await png(40, 40), 'image/png', 'kept.png')
        await sent(server, bob, room, '', [kept.id])
        expect(await stored(server, photo.id)).toBe(true)
        // UPLOAD_TTL_SECONDS (600 s) and the cleaner's grace for sends under way (10 minutes).
        await clock.advance(21 * MINUTE)
        await until(async () => !(await stored(server, photo.id)), { what: 'the expired upload to be deleted' })
        expect(await stored(server, kept.id)).toBe(true)
        const res = await send(server, bob, room, '', [photo.id])
        expect(res.status).toBe(422)
        expect(await codeOf(res)).toBe('upload_expired')
      })
    })
  }
}

for (const store of STORES) {
  describe(`uploads while S3 is unreachable, on ${store.name}`, () => {
    let s3: S3TestServer
    let proxy: FaultProxy
    let server: TestServer

    beforeAll(async () => {
      s3 = await startS3Server()
      proxy = await FaultProxy.start(Number(new URL(s3.endpoint).port), 's3')
      server = await startStoreServer(store, {
        UPLOADS: 's3',
        S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        UPLOAD_BYTES_PER_DAY: String(64 * 1024),
      })
    })
    afterAll(async () => {
      await server?.destroy()
      await proxy?.close()
      await s3?.stop()
    })

    const upload = async (bytes: Uint8Array) => server.http('/chat/v1/uploads/?name=p.png', { method: 'POST', headers: { ...identityHeaders(alice), 'content-type': 'image/png' }, body: bytes as Uint8Array<ArrayBuffer> })

    it('should answer 503 without using up the allowance, keep chat going, and take uploads again once S3 is back', async () => {
      const photo = await png(100, 100)
      const before = await upload(photo)
      expect(before.status).toBe(201)
      const sentBefore = (await before.json()) as AttachmentDto
      proxy.dropNewConnections(true)
      proxy.cut()
      for (let i = 0; i < 20; i++) {
        const res = await upload(photo)
        expect(res.status).toBe(503)
        expect(((await res.json()) as { code: string }).code).toBe('file_storage_unavailable')
      }
      // Messages, and the photo uploaded before, go on: their URLs are signed without asking S3.
      const room = await createRoom(server, 's3-down')
      const res = await server.post('/chat/v1/message/', { room, message: '사진', attachments: [sentBefore.id] }, identityHeaders(alice))
      expect(res.status).toBe(201)
      proxy.heal()
      // Twenty refused uploads took none of the 64 KiB allowance.
      const after = await upload(photo)
      expect(after.status).toBe(201)
      const back = (await after.json()) as AttachmentDto
      expect((await fetch(back.url)).status).toBe(200)
    })
  })
}
