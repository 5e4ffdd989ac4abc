/**
 * What photos cost the compiled server, in two parts, each on a fresh server (SQLite, local files):
 *
 * 1. Uploads: 20 clients (20 users) each POST the same 2 MB photo (3000×2000, raw body) again and
 *    again for --seconds; uploads stored per second, their latency, and the server's peak RSS
 *    (/proc, every 10 ms) against its RSS before. Each upload is stripped of metadata and given a
 *    thumbnail: the 6-megapixel decode on the one thumbnail worker is what bounds the rate. The
 *    photo is noise over a gradient, encoded once with the MozJPEG encoder the server uses, at the
 *    quality that makes it about 2 MB, and kept in the temp folder for later runs.
 * 2. Fan-out of image messages against text ones: 20 open rooms of 10 sockets, each socket keeping
 *    4 of its own messages in flight (the next sent when its echo arrives), until each has sent its
 *    share; delivered frames per second from the first send to the last echo. Driven here, by the
 *    same code for both (bench/load-client.ts cannot attach uploads): text messages, then messages
 *    each carrying one photo. An upload is claimed by one message only, so each sender uploads its
 *    own small photo (64×48, its own thumbnail) once per message before the run: --messages per
 *    socket, those uploads not timed. Text runs send five times as many (nothing to upload), so
 *    that they last about as long. What differs is the send path (each send's claim of its upload,
 *    a write transaction of its own, and the link in the append's) and the frames (two signed URLs,
 *    about 0.7 KB more each). Alternating rounds, each on a fresh server; medians.
 *
 * Prints a table and one JSON line.
 *
 *   bun bench/uploads.ts --binary <chat-server> [--quick] [--seconds 10] [--messages 50] [--rounds 3]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import encodeJpeg from '@jsquash/jpeg/encode.js'
import { rssKiB, type Server, startServer } from './servers.ts'

const { values } = parseArgs({
  options: { binary: { type: 'string' }, quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, messages: { type: 'string' }, rounds: { type: 'string' } },
})
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const quick = values.quick
const seconds = Number(values.seconds ?? (quick ? 3 : 10))
const perSender = Number(values.messages ?? (quick ? 10 : 50))
const rounds = Number(values.rounds ?? (quick ? 1 : 3))
const UPLOADERS = 20
const ROOMS = 20
const CLIENTS = 10
const WINDOW = 4
const PHOTO_BYTES = 2 * 1024 * 1024
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const env = { UPLOAD_BYTES_PER_DAY: String(2 ** 40) }
const identity = (user: string) => ({ 'x-user-id': user, 'x-nickname': user, 'x-email': `${user}@bench.local` })

/** A 3000×2000 photo of about 2 MB: smooth colour with grain, as a phone's photo of a dim room has. */
async function photo(): Promise<Uint8Array<ArrayBuffer>> {
  const path = join(tmpdir(), 'chat-bench-photo-3000x2000.jpg')
  if (existsSync(path)) return new Uint8Array(await Bun.file(path).arrayBuffer())
  const [width, height] = [3000, 2000]
  const data = new Uint8ClampedArray(width * height * 4)
  let seed = 1
  const noise = () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0
    return (seed >>> 24) - 128
  }
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const n = noise() / 5
      data.set([(x * 255) / width + n, (y * 255) / height + n, 128 + 60 * Math.sin(x / 90) + n, 255], (y * width + x) * 4)
    }
  const image = { data, width, height, colorSpace: 'srgb' } as ImageData
  // Bisect the quality towards 2 MB (size grows with quality).
  let [low, high] = [30, 98]
  let best = new Uint8Array()
  for (let i = 0; i < 6; i++) {
    const quality = Math.round((low + high) / 2)
    const bytes = new Uint8Array(await encodeJpeg(image, { quality }))
    if (Math.abs(bytes.length - PHOTO_BYTES) < Math.abs(best.length - PHOTO_BYTES)) best = bytes
    if (bytes.length > PHOTO_BYTES) high = quality
    else low = quality
  }
  await Bun.write(path, best)
  return best
}

async function withServer<T>(run: (server: Server) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-uploads-'))
  const server = await startServer(binary, dir, env)
  try {
    return await run(server)
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Part 1: uploads per second and the server's peak RSS with 20 clients uploading at once. */
async function uploads(bytes: Uint8Array<ArrayBuffer>) {
  return withServer(async (server) => {
    const url = `http://127.0.0.1:${server.port}/chat/v1/uploads/?name=photo.jpg`
    const post = (user: string) => fetch(url, { method: 'POST', headers: { ...identity(user), 'content-type': 'image/jpeg' }, body: bytes })
    // One upload first: the thumbnail worker and its codecs are part of the server at rest.
    if ((await post('warm')).status !== 201) throw new Error('the warm-up upload failed')
    await Bun.sleep(500)
    const rssBefore = rssKiB(server.pid)
    let peak = rssBefore
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(server.pid))), 10)
    const latencies: number[] = []
    let stored = 0
    let withoutThumbnail = 0
    let refused = 0
    const deadline = performance.now() + seconds * 1000
    const started = performance.now()
    await Promise.all(
      Array.from({ length: UPLOADERS }, async (_, i) => {
        while (performance.now() < deadline) {
          const sent = performance.now()
          const res = await post(`uploader-${i}`)
          const body = (await res.json()) as { thumbnail_url?: string | null }
          latencies.push(performance.now() - sent)
          if (res.status !== 201) refused++
          else {
            stored++
            if (!body.thumbnail_url) withoutThumbnail++
          }
        }
      }),
    )
    const elapsed = (performance.now() - started) / 1000
    clearInterval(sampler)
    const sorted = latencies.sort((a, b) => a - b)
    return {
      uploadsPerSecond: stored / elapsed,
      megabytesPerSecond: (stored * bytes.length) / elapsed / 2 ** 20,
      uploadP50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0,
      uploadP99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
      stored,
      withoutThumbnail,
      refused,
      rssBeforeMiB: rssBefore / 1024,
      rssPeakMiB: peak / 1024,
    }
  })
}

/** A small photo for image messages: 64×48, its own thumbnail (no decoding). */
async function smallPhoto(): Promise<Uint8Array<ArrayBuffer>> {
  const data = new Uint8ClampedArray(64 * 48 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256))
  return new Uint8Array(await encodeJpeg({ data, width: 64, height: 48, colorSpace: 'srgb' } as ImageData, { quality: 80 }))
}

const MESSAGE_PREFIX = '{"type":"chat.message","message":"m '

/**
 * Part 2, one run: every socket sends `perSender` messages (with `attachments[c]` ids when given),
 * WINDOW in flight; delivered frames per second from the first send to the last echo.
 */
async function fanout(server: Server, rooms: number[], attachments: string[][] | null, perSender: number) {
  const total = rooms.length * CLIENTS
  const sockets: WebSocket[] = []
  let delivered = 0
  let finished = 0
  const next = new Int32Array(total)
  const echoed = new Int32Array(total)
  const { promise: done, resolve } = Promise.withResolvers<void>()
  const send = (c: number) => {
    const seq = next[c]!++
    const attached = attachments ? `,"attachments":["${attachments[c]![seq]}"]` : ''
    sockets[c]!.send(`{"type":"chat.message","message":"m ${c} ${seq}"${attached}}`)
  }
  for (let c = 0; c < total; c++) {
    const room = rooms[Math.floor(c / CLIENTS)]!
    const query = new URLSearchParams({ user_id: `img-${c}`, nickname: `I${c}`, email: `img-${c}@bench.local` })
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat/${room}/chat/?${query}`)
    ws.addEventListener('message', (event) => {
      const data = event.data as string
      if (!data.startsWith(MESSAGE_PREFIX)) return
      delivered++
      const from = Number(data.slice(MESSAGE_PREFIX.length, data.indexOf(' ', MESSAGE_PREFIX.length)))
      if (from !== c) return
      if (++echoed[c]! === perSender && ++finished === total) resolve()
      else if (next[c]! < perSender) send(c)
    })
    await new Promise((ok, fail) => {
      ws.addEventListener('open', ok, { once: true })
      ws.addEventListener('error', () => fail(new Error(`socket ${c} could not connect`)), { once: true })
    })
    sockets.push(ws)
  }
  await Bun.sleep(300)
  const started = performance.now()
  for (let c = 0; c < total; c++) for (let i = 0; i < Math.min(WINDOW, perSender); i++) send(c)
  await Promise.race([done, Bun.sleep(120_000).then(() => Promise.reject(new Error(`fan-out stalled: ${finished} of ${total} sockets done`)))])
  const elapsed = (performance.now() - started) / 1000
  for (const ws of sockets) ws.close()
  return delivered / elapsed
}

/** Part 2: text against image messages, each round on a fresh server, alternating. */
async function imageFanout() {
  const small = await smallPhoto()
  const run = (images: boolean) =>
    withServer(async (server) => {
      const base = `http://127.0.0.1:${server.port}/chat/v1`
      const rooms: number[] = []
      for (let i = 0; i < ROOMS; i++) {
        const res = await fetch(`${base}/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `images ${i}` }) })
        rooms.push(((await res.json()) as { id: number }).id)
      }
      let attachments: string[][] | null = null
      if (images) {
        // Each sender's own uploads, one per message, 20 senders at a time.
        attachments = Array.from({ length: ROOMS * CLIENTS }, () => [])
        for (let c0 = 0; c0 < ROOMS * CLIENTS; c0 += 20)
          await Promise.all(
            Array.from({ length: 20 }, async (_, k) => {
              const c = c0 + k
              for (let i = 0; i < perSender; i++) {
                const res = await fetch(`${base}/uploads/?name=small.jpg`, { method: 'POST', headers: { ...identity(`img-${c}`), 'content-type': 'image/jpeg' }, body: small })
                if (res.status !== 201) throw new Error(`a pre-upload answered ${res.status}: ${await res.text()}`)
                attachments![c]!.push(((await res.json()) as { id: string }).id)
              }
            }),
          )
      }
      return fanout(server, rooms, attachments, images ? perSender : 5 * perSender)
    })
  const text: number[] = []
  const image: number[] = []
  for (let i = 0; i < rounds; i++) {
    text.push(await run(false))
    image.push(await run(true))
    console.log(`round ${i + 1}: text ${Math.round(text.at(-1)!).toLocaleString('en-US')} delivered/s, image ${Math.round(image.at(-1)!).toLocaleString('en-US')} delivered/s`)
  }
  return { textDeliveredPerSecond: median(text), imageDeliveredPerSecond: median(image), imageToText: median(image) / median(text), rounds }
}

const bytes = await photo()
const up = await uploads(bytes)
const fan = await imageFanout()
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
console.log(
  [
    `uploads: ${UPLOADERS} clients, a ${(bytes.length / 2 ** 20).toFixed(2)} MB 3000×2000 JPEG each, ${seconds} s; fan-out: ${ROOMS} rooms × ${CLIENTS} sockets, window ${WINDOW}, ${perSender} messages per socket, ${rounds} round(s)`,
    '',
    '| figure | value |',
    '| --- | ---: |',
    `| uploads stored/s | ${fmt(up.uploadsPerSecond)} |`,
    `| upload MB/s | ${fmt(up.megabytesPerSecond)} |`,
    `| upload p50 / p99 ms | ${fmt(up.uploadP50Ms)} / ${fmt(up.uploadP99Ms)} |`,
    `| server RSS before / peak MiB | ${fmt(up.rssBeforeMiB)} / ${fmt(up.rssPeakMiB)} |`,
    `| stored without a thumbnail / refused | ${up.withoutThumbnail} / ${up.refused} |`,
    `| fan-out, text: delivered/s | ${fmt(fan.textDeliveredPerSecond)} |`,
    `| fan-out, one photo each: delivered/s | ${fmt(fan.imageDeliveredPerSecond)} |`,
    `| image / text | ${fan.imageToText.toFixed(2)} |`,
  ].join('\n'),
)
console.log(JSON.stringify({ photoBytes: bytes.length, ...up, ...fan }))
