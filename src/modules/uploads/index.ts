import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import { badRequest, forbidden, notFound, payloadTooLarge } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { readBody } from '../../json-body.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { attachmentSchema } from '../../realtime/codec.ts'
import type { Files } from './files.ts'
import { FORM_FRAMING_BYTES } from '../../uploads/request-limits.ts'
import type { ReceivedFile, UploadService } from './service.ts'

/** The file of a request: a form's `file` field, or the raw body named by `?name=`. */
async function receivedFile(request: Request, maxBytes: number): Promise<ReceivedFile> {
  const type = request.headers.get('content-type') ?? ''
  const url = new URL(request.url)
  if (/^multipart\/form-data/i.test(type)) {
    const body = await readBody(request, maxBytes + FORM_FRAMING_BYTES)
    let form: FormData
    try {
      form = await new Response(body, { headers: { 'content-type': type } }).formData()
    } catch {
      throw badRequest('invalid_body', 'The multipart form could not be read.')
    }
    const file = form.get('file')
    if (!(file instanceof Blob)) throw badRequest('invalid_body', 'The form has no `file` field holding a file.')
    if (file.size > maxBytes) throw tooLarge(maxBytes)
    return { bytes: new Uint8Array(await file.arrayBuffer()), name: file instanceof File ? file.name : '' }
  }
  return { bytes: await readBody(request, maxBytes), name: url.searchParams.get('name') ?? '' }
}

const tooLarge = (maxBytes: number) => payloadTooLarge(`An upload may be at most ${maxBytes} bytes.`)

/** `POST /chat/v1/uploads/`, and with local storage the files' own route, `GET /chat/v1/files/…` (signed URLs). */
export const uploadRoutes = (uploads: UploadService, files: Files, callers: Callers, maxBytes: number, logger: Logger) => {
  const routes = new Elysia({ name: 'uploads', prefix: '/chat/v1' }).post(
    '/uploads/',
    async ({ request, set }) => {
      const caller = callers(request.headers)
      // Who, and whether their allowance has room for what the request declares, before reading it.
      await uploads.admit(caller, Number(request.headers.get('content-length') ?? 0))
      const file = await receivedFile(request, maxBytes)
      set.status = 201
      return uploads.upload(caller, file)
    },
    {
      // The body is read here, bounded (readBody), never parsed ahead by the framework.
      parse: 'none',
      query: z.object({ name: z.string().max(1000).optional().describe('The file name, when the body is the raw bytes') }),
      detail: {
        summary: 'Upload a photo or a file',
        description:
          'Either `multipart/form-data` with one `file` field, or the raw bytes with `Content-Type` and `?name=`. What the file is is judged from its bytes, not the header. Photos (JPEG, PNG, WebP, GIF) are stored without their metadata (EXIF, GPS, XMP, comments), measured, and given a thumbnail of at most 320 px. Send it within UPLOAD_TTL_SECONDS with a message (`attachments: [id]`); an upload never sent is deleted then. The URLs are signed and expire (FILE_URL_TTL_SECONDS).',
        tags: ['uploads'],
        security: security.user,
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] } },
            'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            'image/jpeg': { schema: { type: 'string', format: 'binary' } },
          },
        },
        responses: responses({
          201: {
            description: 'Stored',
            schema: attachmentSchema,
            example: {
              id: '0f8fad5bd9cb469fa165706781e1c3a2',
              kind: 'image',
              content_type: 'image/jpeg',
              size: 482133,
              name: '중고자전거.jpg',
              width: 1600,
              height: 1200,
              url: '/chat/v1/files/f/0f/0f8fad5bd9cb469fa165706781e1c3a2?expires=1796565600&…',
              thumbnail_url: '/chat/v1/files/t/0f/0f8fad5bd9cb469fa165706781e1c3a2?expires=1796565600&…',
            },
          },
          400: { description: 'A form without a `file`, or malformed', problem: { code: 'invalid_body' } },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
          413: { description: 'Larger than MAX_UPLOAD_BYTES (`payload_too_large`, unread), or a photo of more than MAX_IMAGE_PIXELS pixels (`image_too_large`)', problem: { code: 'payload_too_large' } },
          415: { description: 'A type not allowed (judged from the bytes): programs never, others unless UPLOAD_TYPES lists them', problem: { code: 'unsupported_type' } },
          422: { description: 'Empty, or a photo whose bytes break its format (`malformed_image`)', problem: { code: 'malformed_image' } },
          429: { description: 'The user uploaded UPLOAD_BYTES_PER_DAY in the last 24 hours', problem: { code: 'upload_quota_exceeded' } },
          503: { description: 'The file storage cannot be reached right now', problem: { code: 'file_storage_unavailable' } },
        }),
      },
    },
  )
  const storage = files.storage
  if (storage.kind !== 'local') return routes
  return routes.get(
    '/files/*',
    async ({ params, query }) => {
      const key = params['*']
      const now = files.clock.wallNow() / 1000
      const verdict = storage.verify(key, query, now)
      // A URL copied out of a message works for whoever holds it until it expires; after that, or
      // altered in any part, it is refused alike (and the two told apart only in the log).
      if (verdict !== 'ok') {
        logger.debug('file URL refused', { verdict })
        throw forbidden('file_url_refused', 'This file link expired or is not valid; read the message again for a fresh one.')
      }
      const file = await storage.read(key)
      if (!file) throw notFound('file_not_found', 'This file is gone (its message was unsent, or it was never sent).')
      return new Response(file, { headers: storage.responseHeaders(query, now) })
    },
    {
      // Not an operation clients call: they follow the opaque URLs messages carry (S3's look nothing
      // like these), so it is left out of the API document (README and SECURITY.md describe it).
      detail: { hide: true },
    },
  )
}
