import { z } from 'zod'

export type JsonSchema = Record<string, unknown>

/**
 * JSON Schema (draft 2020-12, as OpenAPI 3.1 and AsyncAPI use) of a zod schema. `io: 'input'`
 * describes what a client sends (before defaults and coercion), `output` what the server sends.
 */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema
  return rest
}
