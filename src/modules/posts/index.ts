import { Elysia } from 'elysia'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { parsePathId } from '../shared-model.ts'
import { publicHost } from '../../http.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { postEventBodySchema, postEventResultSchema, postParamsSchema } from '../rooms/model.ts'
import type { PostService } from './service.ts'

/** `POST /chat/v1/posts/{post_id}/messages/`. */
export const postRoutes = (posts: PostService, callers: Callers, config: Config) =>
  new Elysia({ name: 'posts', prefix: '/chat/v1' }).post(
    '/posts/:post_id/messages/',
    ({ params, body, request }) => posts.event(parsePathId(params.post_id, 'post'), body, publicHost(request, config.PUBLIC_URL), callers(request.headers)),
    {
      params: postParamsSchema,
      body: postEventBodySchema(config.MAX_MESSAGE_LENGTH, config.ROOM_DATA_BYTES),
      detail: {
        summary: 'Tell every room about a post (service call)',
        description:
          'One system message into every room about the post (open, private, direct), in each room\'s order: "예약중이에요", "거래가 완료되었어요". With `status: "archived"` the rooms are archived first: from then on they can be read but not written (409 `room_archived`, `chat.error` `room_archived`), and a send racing the archive is either stored before the system message or refused. Each room hears `chat.room.updated`, then the message; webhooks `room.updated` and `message.created`.',
        tags: ['rooms'],
        security: security.service,
        responses: responses({
          200: { description: 'The rooms about the post, each of which got the message (empty when there are none)', schema: postEventResultSchema, example: { rooms: [8, 12, 31] } },
          403: { description: 'Not a service call', problem: { code: 'service_call_required' } },
          404: { description: 'Not a post id', problem: { code: 'post_not_found' } },
          422: { description: 'A field is invalid; each one is listed', problem: { code: 'validation_failed', example: { errors: [{ path: 'message', message: 'must not be empty' }] } } },
          503: { description: 'Storage or live delivery is unavailable for a moment', problem: { code: 'storage_unavailable' } },
        }),
      },
    },
  )
