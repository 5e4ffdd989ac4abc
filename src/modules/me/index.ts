import { Elysia } from 'elysia'
import { requireIdentity, type Callers } from '../../caller.ts'
import { exampleMessage } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { meSchema, toMeDto, type MeDto } from './model.ts'

/** The sender of the documents' example message. */
const exampleMe: MeDto = { user_id: exampleMessage.user_id ?? '42', nickname: exampleMessage.nickname, email: exampleMessage.sender, profile_picture_url: exampleMessage.profile_picture_url }

/** `GET /chat/v1/me/`: who the gateway says the caller is. */
export const meRoutes = (callers: Callers) =>
  new Elysia({ name: 'me', prefix: '/chat/v1' }).get(
    '/me/',
    ({ request, set }) => {
      const { identity } = requireIdentity(callers(request.headers))
      // One user's answer: no cache between the client and the server may keep it for another.
      set.headers['cache-control'] = 'private, no-store'
      return toMeDto(identity)
    },
    {
      detail: {
        summary: 'Who am I',
        description:
          "The identity the gateway forwarded with this very request, as the server reads it (headers decoded). A client behind a gateway learns its user id here: the token it holds is verified by the gateway, not read by the client. The client library keys what it keeps in a browser (pending sends) by this id, so users who share a browser never send each other's messages.",
        tags: ['identity'],
        security: security.user,
        responses: responses({
          200: { description: 'The caller', schema: meSchema, example: exampleMe },
          400: { description: 'The identity headers are invalid', problem: { code: 'invalid_identity' } },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
        }),
      },
    },
  )
