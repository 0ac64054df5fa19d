import { z } from 'zod';
import { futureExpiry, label, permission, publicTokenId, timestamp, uuid } from './common';

export const createAccessTokenBody = z.strictObject({
  name: label(),
  permissions: z
    .array(permission)
    .min(1, 'must list at least one permission')
    .max(50, 'must have at most 50 entries')
    .transform((list) => [...new Set(list)]),
  site_ids: z
    .array(uuid)
    .min(1, 'must list at least one site, or be left out for every site')
    .max(100, 'must have at most 100 entries')
    .transform((list) => [...new Set(list)])
    .nullable()
    .optional(),
  expires_at: futureExpiry,
});

export const accessTokenIdParams = z.strictObject({ id: publicTokenId });

export const accessToken = z.object({
  id: z.string(),
  name: z.string(),
  permissions: z.array(z.string()),
  site_ids: z.array(uuid).nullable().meta({ description: 'null: every site the creator can access' }),
  key_prefix: z.string(),
  preview: z.string(),
  expires_at: timestamp.nullable(),
  last_used_at: timestamp.nullable(),
  created_at: timestamp,
});

export const createdAccessToken = accessToken.extend({
  token: z.string().meta({ description: 'The raw token, shown in this answer only' }),
});
