import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema';
import { createSerializerCompiler } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';

const zodSerializer = createSerializerCompiler({});

/**
 * Writes each answer with fast-json-stringify, compiled once per route and status from the zod
 * schema the route declares (as JSON Schema, the same one its OpenAPI document shows). Like the zod
 * serializer it replaces, it writes only the fields the schema names, so a stray column can never
 * leak; unlike it, it does not validate every answer again at runtime (the handlers' return types
 * are checked against the same schemas at compile time), which cost a listing of ten sites ~25 µs
 * against ~5 µs. A schema JSON Schema cannot express falls back to the zod serializer.
 */
export const responseSerializerCompiler: FastifySerializerCompiler<ZodType> = (route) => {
  let jsonSchema: Record<string, unknown>;
  try {
    jsonSchema = z.toJSONSchema(route.schema, { io: 'output', unrepresentable: 'throw' });
  } catch {
    return zodSerializer(route);
  }
  return fastJson(jsonSchema);
};
