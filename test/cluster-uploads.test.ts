import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { AttachmentDto, MessageDto } from '../src/realtime/codec.ts'
import { png } from '../src/uploads/image-fixtures.ts'
import { startCluster, type TestCluster } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { startS3Server, type S3TestServer } from './support/s3-server.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// Photos across three instances on one Postgres, one Redis and one S3 bucket: uploaded on one,
// sent from another, heard on a third with URLs that work; an upload is sent once, whichever
// instances three sends of it reach at the same moment.

let s3: S3TestServer
let cluster: TestCluster
let instances: ServerProcess[]

beforeAll(async () => {
  s3 = await startS3Server()
  cluster = await startCluster('uploads', {
    ...UNLIMITED,
    UPLOADS: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  })
  instances = cluster.instances
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
  await s3?.stop()
})

const seller: TestUser = { user_id: 'u-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'u-buyer', nickname: '구매자', email: 'buyer@example.com' }
const on = (instance: ServerProcess) => endpoint(instance.base)

async function upload(instance: ServerProcess, who: TestUser, name: string): Promise<AttachmentDto> {
  const res = await on(instance).http(`/chat/v1/uploads/?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { ...identityHeaders(who), 'content-type': 'image/png' },
    body: (await png(400, 300)) as Uint8Array<ArrayBuffer>,
  })
  expect(res.status).toBe(201)
  return (await res.json()) as AttachmentDto
}
const send = (instance: ServerProcess, who: TestUser, room: number, attachments: string[]) => on(instance).post('/chat/v1/message/', { room, message: '', attachments }, identityHeaders(who))

describe('photos across instances', () => {
  it('should be uploaded on one instance, sent from another and heard on a third, with URLs that work', async () => {
    const room = ((await (await on(instances[0]!).post('/chat/v1/create-room/', { name: '거래' })).json()) as { id: number }).id
    const listener = await TestSocket.connect(on(instances[2]!), room, buyer)
    await listener.barrier()
    const photo = await upload(instances[0]!, seller, '흠집.png')
    const res = await send(instances[1]!, seller, room, [photo.id])
    expect(res.status).toBe(201)
    const message = (await res.json()) as MessageDto
    const frame = await listener.next((f) => f.type === 'chat.message' && f.id === message.id)
    const heard = (frame.attachments as AttachmentDto[])[0]!
    expect(heard).toMatchObject({ id: photo.id, kind: 'image', width: 400, height: 300, name: '흠집.png' })
    // The bucket serves the URL any instance signed.
    for (const url of [heard.url, heard.thumbnail_url!]) expect((await fetch(url)).status).toBe(200)
    await listener.close()
  })

  it('should let exactly one of three sends of the same upload, reaching three instances at once, store it', async () => {
    const room = ((await (await on(instances[0]!).post('/chat/v1/create-room/', { name: '동시' })).json()) as { id: number }).id
    for (let round = 0; round < 5; round++) {
      const photo = await upload(instances[round % 3]!, seller, `${round}.png`)
      const answers = await Promise.all([send(instances[0]!, seller, room, [photo.id]), send(instances[1]!, seller, room, [photo.id]), send(instances[2]!, seller, room, [photo.id])])
      expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409])
    }
    const history = (await (await on(instances[2]!).http(`/chat/v1/room/${room}/messages/`)).json()) as MessageDto[]
    expect(history.length).toBe(5)
    expect(new Set(history.map((m) => m.attachments[0]!.id)).size).toBe(5)
  })
})
