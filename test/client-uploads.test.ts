import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { deflateSync } from 'node:zlib'
import { ChatApiError, ChatSendError, type FileProgress, type Message, type PendingMessage } from '../client/src/index.ts'
import { clientAs, MemoryStorage, RoomLog } from './support/client.ts'
import { alice, bob, createRoom, startTestServer, type TestServer } from './support/server.ts'
import { until } from './support/wait.ts'

/** A PNG of `width`×`height` pixels, a gradient over `rgb`, built byte by byte. */
function png(width: number, height: number, [r, g, b]: [number, number, number] = [40, 110, 240]): Uint8Array<ArrayBuffer> {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const out = Buffer.alloc(body.length + 8)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(Bun.hash.crc32(body), body.length + 4)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits, RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([(r + x) & 0xff, (g + y) & 0xff, b], y * (width * 3 + 1) + 1 + x * 3)
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return new Uint8Array(Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', new Uint8Array())]))
}

/** A small PDF: what the server takes as a file that is not a photo. */
const PDF = new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')

describe('a room connection sending photos and files', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.destroy())

  /** Alice and Bob, each connected to a new open room. */
  async function twoClients() {
    const a = clientAs(server.base, alice)
    const b = clientAs(server.base, bob)
    const roomId = await createRoom(server, '사진방')
    const ra = a.room(roomId, { detail: await a.api.room(roomId) })
    const rb = b.room(roomId, { detail: await b.api.room(roomId) })
    await until(() => ra.state === 'open' && rb.state === 'open', { what: 'both open' })
    return { a, b, ra, rb, roomId, logB: new RoomLog(rb) }
  }

  it('should upload the files, then send the message that carries them to the other client, with the progress of each file', async () => {
    const { a, ra, rb, logB } = await twoClients()
    const progress: FileProgress[] = []
    ra.on('upload', (p) => progress.push(p))
    const photo = png(640, 480)
    // A browser File, as Bun has one, and bytes with a name.
    const files = [new File([photo], '자전거.png', { type: 'image/png' }), { data: PDF, name: '견적서.pdf', type: 'application/pdf' }]

    const sent = await ra.send({ text: '사진이랑 견적서 보내요', files })
    expect(sent.kind).toBe('file')
    expect(sent.attachments).toHaveLength(2)
    expect(sent.attachments[0]).toMatchObject({ kind: 'image', content_type: 'image/png', name: '자전거.png', width: 640, height: 480 })
    expect(sent.attachments[0]!.thumbnail_url).toBeString()
    expect(sent.attachments[1]).toMatchObject({ kind: 'file', content_type: 'application/pdf', name: '견적서.pdf', size: PDF.byteLength, width: null, height: null, thumbnail_url: null })

    // Bob's copy carries the same files.
    const received = await until(() => logB.messages.find((m) => m.id === sent.id) ?? false, { what: 'the message on Bob’s side' })
    expect(received.message).toBe('사진이랑 견적서 보내요')
    expect(received.attachments.map(({ id, kind, name }) => ({ id, kind, name }))).toEqual(sent.attachments.map(({ id, kind, name }) => ({ id, kind, name })))
    // Their signed URLs (paths on the server, without PUBLIC_URL) fetch without identity: the photo, its thumbnail, the file as uploaded.
    const file = (url: string) => fetch(new URL(url, server.base))
    const image = await file(received.attachments[0]!.url)
    expect(image.status).toBe(200)
    expect(image.headers.get('content-type')).toStartWith('image/')
    expect((await file(received.attachments[0]!.thumbnail_url!)).status).toBe(200)
    expect(new Uint8Array(await (await file(received.attachments[1]!.url)).arrayBuffer())).toEqual(PDF)

    // Each file reported from its start to its end (fetch, outside a browser, tells no more).
    for (const [index, size] of [photo.byteLength, PDF.byteLength].entries()) {
      const mine = progress.filter((p) => p.index === index)
      expect(mine[0]).toEqual({ client_msg_id: sent.client_msg_id!, index, name: index === 0 ? '자전거.png' : '견적서.pdf', loaded: 0, total: size })
      expect(mine.at(-1)).toMatchObject({ loaded: size, total: size })
    }

    // Photos alone, without text: an image message.
    const album = await ra.send({
      files: [
        { data: png(300, 800), name: 'a.png' },
        { data: png(200, 200, [200, 40, 40]), name: 'b.png' },
      ],
    })
    expect(album).toMatchObject({ kind: 'image', message: '' })
    await until(() => logB.messages.some((m) => m.id === album.id), { what: 'the album on Bob’s side' })
    expect(rb.messages.get(album.id)?.attachments.map((f) => [f.width, f.height])).toEqual([
      [300, 800],
      [200, 200],
    ])
    // History gives the same files, with URLs of its own reading.
    const history = await a.api.history(ra.roomId)
    expect(history.find((m) => m.id === album.id)?.attachments.map((f) => f.id)).toEqual(album.attachments.map((f) => f.id))
    ra.close()
    rb.close()
  })

  it('should send messages in the order given, a text sent during an upload after the photo before it', async () => {
    const { ra, rb, logB } = await twoClients()
    const photo = ra.send({ files: [{ data: png(1200, 900), name: 'big.png' }] })
    const text = ra.send('방금 사진 어때요?')
    const [first, second] = await Promise.all([photo, text])
    expect(first!.id).toBeLessThan(second!.id)
    await until(() => logB.messages.length === 2, { what: 'both on Bob’s side' })
    expect(logB.messages.map((m) => m.kind)).toEqual(['image', 'text'])
    ra.close()
    rb.close()
  })

  it('should reject a send whose file the server refuses, with the refusal as its cause, and go on with the next', async () => {
    const { a, ra, rb, logB } = await twoClients()
    const failures: { pending: PendingMessage; error: ChatSendError }[] = []
    ra.on('failed', (f) => failures.push(f))

    const refused = ra.send({ text: '메모', files: [{ data: new TextEncoder().encode('그냥 글자예요'), name: 'memo.txt', type: 'text/plain' }] })
    const next = ra.send('다음 메시지')
    const error = await refused.then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ChatSendError)
    expect((error as ChatSendError).code).toBe('upload_failed')
    const cause = (error as ChatSendError).cause
    expect(cause).toBeInstanceOf(ChatApiError)
    expect(cause).toMatchObject({ status: 415, code: 'unsupported_type' })
    expect(failures.map((f) => [f.pending.message, f.error])).toEqual([['메모', error as ChatSendError]])
    // The refused message is given up on; the one behind it goes out.
    expect((await next).message).toBe('다음 메시지')
    expect(ra.pending).toEqual([])
    await until(() => logB.messages.length === 1, { what: 'the next message on Bob’s side' })
    expect(logB.texts()).toEqual(['다음 메시지'])

    // The REST call itself throws the problem, typed.
    const direct = await a.api.upload({ data: new Uint8Array([0x00, 0x01, 0x02, 0x03]), name: 'blob.bin' }).catch((e: unknown) => e)
    expect(direct).toBeInstanceOf(ChatApiError)
    expect((direct as ChatApiError).status).toBe(415)
    ra.close()
    rb.close()
  })

  it('should answer a file over the size limit with 413 as the send’s cause', async () => {
    const small = await startTestServer({ MAX_UPLOAD_BYTES: '4096' })
    try {
      const a = clientAs(small.base, alice)
      const roomId = await createRoom(small)
      const room = a.room(roomId)
      const large = png(400, 400)
      expect(large.byteLength).toBeGreaterThan(4096)
      const error = await room.send({ files: [{ data: large, name: 'large.png' }] }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'upload_failed', cause: { status: 413 } })
      room.close()
    } finally {
      await small.destroy()
    }
  })

  it('should keep a message across a reload once its files are uploaded, and not while they upload', async () => {
    const { a, ra, rb, roomId, logB } = await twoClients()
    ra.close()
    const storage = new MemoryStorage()
    const storageKey = `test-outbox:${alice.user_id}:${roomId}`
    // A page that sent a photo (uploaded) and the message waits still: the next page sends it.
    const uploaded = await a.api.upload({ data: png(64, 48), name: '남은 사진.png' })
    const left: PendingMessage = { client_msg_id: 'left-by-last-page', message: '', files: [{ name: uploaded.name, size: uploaded.size, content_type: uploaded.content_type, upload: uploaded }] }
    storage.setItem(storageKey, JSON.stringify([left]))

    const page = a.room(roomId, { storage, storageKey })
    const restored = await until(() => logB.messages.find((m) => m.client_msg_id === 'left-by-last-page') ?? false, { what: 'the restored message on Bob’s side' })
    expect(restored.attachments.map((f) => f.id)).toEqual([uploaded.id])
    await until(() => page.pending.length === 0 && storage.items.size === 0, { what: 'nothing pending' })

    // Closed while a photo uploads: that message is not kept; the text behind it is.
    const photo = page.send({ text: '캡션', files: [{ data: png(1600, 1200), name: 'slow.png' }] })
    const text = page.send('글만 남아요')
    page.close()
    expect(await photo.catch((e: ChatSendError) => e.code)).toBe('closed')
    expect(await text.catch((e: ChatSendError) => e.code)).toBe('closed')
    await until(() => storage.items.size === 1, { what: 'the storage written' })
    expect((JSON.parse(storage.getItem(storageKey)!) as PendingMessage[]).map((p) => p.message)).toEqual(['글만 남아요'])

    const next = a.room(roomId, { storage, storageKey })
    await until(() => logB.messages.some((m: Message) => m.message === '글만 남아요'), { what: 'the kept text on Bob’s side' })
    expect(logB.messages.some((m) => m.message === '캡션')).toBe(false)
    next.close()
    rb.close()
  })
})
