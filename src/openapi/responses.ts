import type { OpenAPIV3 } from 'openapi-types'
import { z } from 'zod'
import { toJsonSchema } from './json-schema.ts'

/** The problem+json body every error response carries. */
export const problemSchema = z.object({
  type: z.string().describe('URI naming the problem kind: urn:chat:problem:<code>'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string().describe('Stable machine-readable code'),
  errors: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('Each invalid field, for validation errors'),
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
