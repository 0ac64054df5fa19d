import { z } from 'zod';
import { futureExpiry, label, publicTokenId, timestamp, uuid } from './common';

export const createApiKeyBody = z.strictObject({
  name: label(),
  expires_at: futureExpiry,
});

export const apiKeyParams = z.strictObject({ site: z.string().max(100), id: publicTokenId });

export const apiKey = z.object({
  id: z.string(),
  site_id: uuid,
  name: z.string(),
  scope: z.literal('stats:read'),
  key_prefix: z.string(),
  preview: z.string(),
  expires_at: timestamp.nullable(),
  last_used_at: timestamp.nullable(),
  revoked_at: timestamp.nullable(),
  created_at: timestamp,
});

export const createdApiKey = apiKey.extend({
  token: z.string().meta({ description: 'The raw key, shown in this answer only' }),
});
