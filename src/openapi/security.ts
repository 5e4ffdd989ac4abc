import type { OpenAPIV3 } from 'openapi-types'
import { identityInputSchema } from '../identity.ts'

/**
 * The headers a request may carry besides its own parameters, as OpenAPI security schemes: the
 * identity the gateway forwards, the app backend's service secret and the gateway's own secret.
 * Swagger UI's "Authorize" dialog takes them once for every operation; each operation's `security`
 * says which it needs.
 */

const identityFields = identityInputSchema.shape
const apiKey = (name: string, description: string): OpenAPIV3.ApiKeySecurityScheme => ({ type: 'apiKey', in: 'header', name, description })
const fromGateway = 'Set by the gateway from the verified token; non-ASCII percent-encoded as UTF-8 (Swagger UI encodes it for you).'

/** The schemes, named by their header. */
export const securitySchemes = {
  'X-User-Id': apiKey('X-User-Id', `${identityFields.user_id.description}. ${fromGateway}`),
  'X-Nickname': apiKey('X-Nickname', `${identityFields.nickname.description}. ${fromGateway}`),
  'X-Email': apiKey('X-Email', `${identityFields.email.description}. ${fromGateway}`),
  'X-Profile-Url': apiKey('X-Profile-Url', `${identityFields.profile_url.description}. Optional. ${fromGateway}`),
  'X-Service-Secret': apiKey(
    'X-Service-Secret',
    "SERVICE_SECRET, sent only by the app's own backend: such a call may read any room, create rooms of any kind for anyone and manage members. The gateway strips it from clients.",
  ),
  'X-Gateway-Secret': apiKey('X-Gateway-Secret', 'GATEWAY_SECRET, which the gateway adds to every request it forwards. Required on every request but `/healthz` when the server runs with GATEWAY_SECRET; not used otherwise.'),
} satisfies Record<string, OpenAPIV3.ApiKeySecurityScheme>

type Scheme = keyof typeof securitySchemes

/**
 * What an operation needs: every `required` scheme, and the `optional` ones besides when the caller
 * has them. OpenAPI has no optional member of a requirement, so they are a second alternative
 * that names them all (Swagger UI sends every authorized scheme an operation names).
 */
function requirement(required: Scheme[], optional: Scheme[]): OpenAPIV3.SecurityRequirementObject[] {
  const of = (schemes: Scheme[]) => Object.fromEntries(schemes.map((scheme) => [scheme, []]))
  return [of([...required, ...optional]), of(required)]
}

const identity: Scheme[] = ['X-User-Id', 'X-Nickname', 'X-Email']

/** Per-operation `security`, by who may call. */
export const security = {
  /** A user: the gateway's identity (X-Profile-Url when they have a picture). */
  user: requirement(identity, ['X-Profile-Url', 'X-Gateway-Secret']),
  /** A user; or the app's backend acting as one, with X-Service-Secret besides. */
  userOrService: requirement(identity, ['X-Profile-Url', 'X-Service-Secret', 'X-Gateway-Secret']),
  /** Anyone for open rooms; a member (identity) or a service call for private and direct rooms. */
  anyone: requirement([], [...identity, 'X-Profile-Url', 'X-Service-Secret', 'X-Gateway-Secret']),
  /** The app's backend only. */
  service: requirement(['X-Service-Secret'], ['X-Gateway-Secret']),
  /** The document's default, for operations that name nobody (health, readiness, metrics). */
  open: requirement([], ['X-Gateway-Secret']),
} satisfies Record<string, OpenAPIV3.SecurityRequirementObject[]>
