import { z } from 'zod';
import { email, label, timestamp, uuid } from './common';

export const MIN_PASSWORD_LENGTH = 10;

export const signupBody = z.strictObject({
  email,
  password: z
    .string()
    .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
    // Bounded so a megabyte "password" cannot make the hash expensive.
    .max(1024, 'must be at most 1024 characters'),
  name: label().optional(),
});

export const loginBody = z.strictObject({
  email: z
    .string()
    .trim()
    .toLowerCase()
    .max(254, 'must be at most 254 characters')
    // No stored email holds one, and PostgreSQL refuses a NUL byte in a query outright.
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
  password: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
});

export const user = z.object({
  id: uuid,
  email: z.string(),
  name: z.string().nullable(),
  created_at: timestamp,
});

export const account = z.object({
  id: uuid,
  name: z.string(),
  plan: z.string(),
  created_at: timestamp,
});

export const session = z.object({
  token: z.string().meta({ description: 'Session JWT: send as `Authorization: Bearer <token>`' }),
  expires_at: timestamp,
});

export const signupResult = z.object({ user, account, token: z.string(), expires_at: timestamp });

export const accountResult = z.object({
  user,
  account,
  usage: z.object({
    sites: z.number().int(),
    events_this_month: z.number().int().nullable().meta({
      description: 'Events since the start of the calendar month (UTC); null while ClickHouse is unreachable',
    }),
  }),
});

export const updateAccountBody = z.strictObject({ name: label() });
