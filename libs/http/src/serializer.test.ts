import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { responseSerializerCompiler } from './serializer';

const compile = (schema: z.ZodType) =>
  responseSerializerCompiler({ schema, method: 'GET', url: '/x', httpStatus: '200' }) as (
    data: unknown,
  ) => string;

const site = z.object({
  data: z.array(
    z.object({
      id: z.uuid(),
      name: z.string(),
      events_this_month: z.number().int().nullable(),
      settings: z.object({ excluded_paths: z.array(z.string()) }),
      kind: z.discriminatedUnion('type', [
        z.object({ type: z.literal('page'), path: z.string() }),
        z.object({ type: z.literal('event'), name: z.string() }),
      ]),
      created_at: z.iso.datetime(),
    }),
  ),
});

describe('response serializer', () => {
  it('writes what JSON.stringify writes for an answer that fits its schema', () => {
    const answer = {
      data: [
        {
          id: '6f1c1a52-6a55-4b8e-9b53-0d3f8a0b9c11',
          name: 'Quote " and \\ and \u2028 and é',
          events_this_month: null,
          settings: { excluded_paths: ['/admin/*'] },
          kind: { type: 'event', name: 'signup' },
          created_at: '2026-12-06T10:00:00.000Z',
        },
        {
          id: '0a1c1a52-6a55-4b8e-9b53-0d3f8a0b9c11',
          name: 'Second',
          events_this_month: 42,
          settings: { excluded_paths: [] },
          kind: { type: 'page', path: '/pricing' },
          created_at: '2026-12-06T11:00:00.000Z',
        },
      ],
    };
    expect(JSON.parse(compile(site)(answer))).toEqual(answer);
  });

  it('never writes a field the schema does not name', () => {
    const out = compile(z.object({ id: z.string(), nested: z.object({ a: z.number() }) }))({
      id: 'x',
      secret_hash: 'do not leak',
      nested: { a: 1, password: 'nor this' },
    });
    expect(JSON.parse(out)).toEqual({ id: 'x', nested: { a: 1 } });
  });

  it('falls back to the zod serializer, which validates, for a schema JSON Schema cannot express', () => {
    const serialize = compile(z.object({ at: z.date() }));
    const at = new Date('2026-12-06T10:00:00.000Z');
    expect(JSON.parse(serialize({ at }))).toEqual({ at: at.toISOString() });
    expect(() => serialize({ at: 'not a date' })).toThrow(/doesn't match the schema/);
  });
});
