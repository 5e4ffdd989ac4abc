import type { OpenAPIV3 } from 'openapi-types'
import { z } from 'zod'
import { identityInputSchema } from '../identity.ts'
import { toJsonSchema } from './json-schema.ts'

/** The problem+json body every error response carries. */
export const problemSchema = z
  .object({
    type: z.string().describe('URI naming the problem kind: urn:chat:problem:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable machine-readable code'),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Each invalid field, for validation errors'),
  })


type Json = Record<string, unknown>

/** One documented response: a schema (JSON) or a problem (problem+json), with an example; or no body. */
export type ResponseDoc = { description: string; schema: z.ZodType; example?: unknown } | { description: string; problem: { code: string; example?: Partial<Json> } } | { description: string; empty: true }

/** Builds an OpenAPI `responses` object from zod schemas, so docs and validation share one source. */
export function responses(docs: Record<number, ResponseDoc>): OpenAPIV3.ResponsesObject {
  const out: Json = {}
  for (const [status, doc] of Object.entries(docs)) {
    if ('empty' in doc) out[status] = { description: doc.description }
    else if ('schema' in doc) {
      out[status] = { description: doc.description, content: { 'application/json': { schema: toJsonSchema(doc.schema), ...(doc.example === undefined ? {} : { example: doc.example }) } } }
    } else {
      const example = { type: `urn:chat:problem:${doc.problem.code}`, title: '', status: Number(status), detail: doc.description, code: doc.problem.code, ...doc.problem.example }
      out[status] = { description: doc.description, content: { 'application/problem+json': { schema: toJsonSchema(problemSchema), example } } }
    }
  }
  return out as OpenAPIV3.ResponsesObject
}

const headerNames: Record<string, string> = { user_id: 'X-User-Id', nickname: 'X-Nickname', email: 'X-Email', profile_url: 'X-Profile-Url' }

/** The gateway's identity headers as OpenAPI parameters, from the schema that validates them. */
export function identityHeaderParameters(required: boolean): OpenAPIV3.ParameterObject[] {
  return Object.entries(identityInputSchema.shape).map(([field, schema]) => ({
    name: headerNames[field] ?? field,
    in: 'header',
    required: required && field !== 'profile_url',
    description: `${schema.description ?? ''}. Set by the gateway from the verified token; non-ASCII percent-encoded as UTF-8.`,
    schema: toJsonSchema(schema, 'input'),
  }))
}

/** `X-Service-Secret`: marks a call from the app's own backend (see SERVICE_SECRET). */
export const serviceSecretParameter: OpenAPIV3.ParameterObject = {
  name: 'X-Service-Secret',
  in: 'header',
  required: false,
  description: "SERVICE_SECRET, sent only by the app's own backend: such a call may read any room, create rooms of any kind for anyone and manage members. The gateway strips it from clients.",
  schema: { type: 'string' },
}
