import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/**
 * A real S3-compatible server for tests: @20minutes/s3rver (a maintained fork of s3rver), run in
 * this process. Unlike s3rver 3 it checks SigV4 signatures, in headers and in presigned URLs, and
 * refuses an expired presigned URL (403 AccessDenied) or an altered one (403 SignatureDoesNotMatch).
 *
 * Quirks found with Bun's S3Client:
 * - Its canonical query re-encodes values with `encodeURIComponent`, which leaves `'()*!` as they
 *   are where SigV4 (and Bun) percent-encode them, so a presigned GET whose
 *   `response-content-disposition` holds RFC 5987's `filename*=UTF-8''…` fails its signature. The
 *   module is loaded with that one call replaced by the package's own RFC 3986 encoder.
 * - Bun lists a bucket as `GET /<bucket>/?list-type=2` and signs the `/`; s3rver signs the path
 *   without it, so `S3Client.list()` is refused. `objectKeys()` asks the server's store instead.
 * - Only the built-in account S3RVER / S3RVER exists.
 */

/** A running S3 server with one empty bucket. */
export interface S3TestServer {
  endpoint: string
  bucket: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  /** The keys stored in the bucket, sorted. */
  objectKeys(): Promise<string[]>
  stop(): Promise<void>
}

interface S3rverStore {
  listObjects(bucket: string, options: object): Promise<{ objects: { key: string }[] }>
}

interface S3rver {
  store: S3rverStore
  run(): Promise<{ port: number }>
  close(): Promise<void>
}

type S3rverClass = new (options: object) => S3rver

const require = createRequire(import.meta.url)

/** Loads s3rver with its canonical query encoding fixed (see the quirks above), once. */
function loadS3rver(): S3rverClass {
  const authPath = require.resolve('@20minutes/s3rver/lib/middleware/authentication.js')
  if (!require.cache[authPath]) {
    const source = readFileSync(authPath, 'utf8')
    const faulty = '[param, value].map(encodeURIComponent)'
    if (!source.includes(faulty)) throw new Error(`${authPath} changed: check whether its SigV4 query encoding still needs fixing`)
    const auth = new Module(authPath) as Module & { _compile(source: string, path: string): void; paths: string[] }
    auth.filename = authPath
    auth.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(authPath))
    auth._compile(source.replace(faulty, '[param, value].map(encodeURIComponentRFC3986)'), authPath)
    auth.loaded = true
    require.cache[authPath] = auth
  }
  return require('@20minutes/s3rver') as S3rverClass
}

/** Starts an S3 server on a free port of 127.0.0.1, its data in a fresh temporary folder. */
export async function startS3Server(bucket = 'uploads'): Promise<S3TestServer> {
  const S3rver = loadS3rver()
  const directory = mkdtempSync(join(tmpdir(), 'chat-s3-'))
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, vhostBuckets: false, configureBuckets: [{ name: bucket, configs: [] }] })
  const { port } = await server.run()
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async objectKeys() {
      const { objects } = await server.store.listObjects(bucket, {})
      return objects.map((object) => object.key).sort()
    },
    async stop() {
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    },
  }
}
