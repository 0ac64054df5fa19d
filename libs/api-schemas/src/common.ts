import { PERMISSIONS } from '@tidemark/auth';
import { z } from 'zod';
import { unpairedSurrogateProblem } from './validators';

/** Wraps a resource or list the way every answer is wrapped: `{data: ...}`. */
export const dataOf = <T extends z.ZodType>(schema: T) => z.object({ data: schema });

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'snake_case error code, see the table in API.md' }),
      message: z.string(),
      details: z.record(z.string(), z.array(z.string())).optional(),
    }),
  })
  .meta({ description: 'Every error has this shape' });

export const timestamp = z.iso.datetime().meta({ description: 'ISO 8601 UTC' });

export const uuid = z.uuid({ error: 'must be a UUID' });

/**
 * The public id of an account token or site API key (`tma_<id>_...`): 12 hex digits. Anything else
 * names no token, and must not reach PostgreSQL, which refuses a NUL byte in text outright.
 */
export const publicTokenId = z.string().regex(/^[0-9a-f]{12}$/, 'must be a token id');

/** Free text a person types (names): trimmed, bounded, and no control characters (no header or log injection). */
export const label = (max = 100) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
    .superRefine(checked(unpairedSurrogateProblem));

export const email = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .toLowerCase()
  .pipe(z.email({ error: 'must be an email address' }));

export const permission = z.enum(PERMISSIONS, { error: `must be one of ${PERMISSIONS.join(', ')}` });

/** An optional expiry in the future; null or absent means "never". */
export const futureExpiry = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time such as 2027-01-31T00:00:00Z' })
  .transform((s) => new Date(s))
  .refine((d) => d.getTime() > Date.now(), 'must be in the future')
  .nullable()
  .optional();

/** `{site}` in a path: a site id or its `sk_` key; anything else is simply not found. */
export const siteParams = z.strictObject({
  site: z.string().max(100).meta({ description: 'Site id (UUID) or site_key (sk_...)' }),
});

export const noQuery = z.strictObject({});

/** For actions without input (roll): no body (fastify gives null), or an empty object; any field is unknown (422). */
export const emptyBody = z.strictObject({}).nullish();

export const deletedBody = z.object({ deleted: z.literal(true) });

/** Turns a `...Problem(value)` validator (validators.ts) into a zod refinement. */
export const checked = (problem: (v: string) => string | null) => (value: string, ctx: z.RefinementCtx) => {
  const message = problem(value);
  if (message) ctx.addIssue({ code: 'custom', message });
};

/** A whole-number query parameter within bounds. */
export const queryInt = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

/** What paged lists add beside `data`. */
export const pagination = z.object({
  page_number: z.number().int(),
  limit: z.number().int(),
  total_rows: z.number().int(),
  total_pages: z.number().int(),
});
