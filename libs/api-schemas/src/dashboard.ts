import { z } from 'zod';
import { timestamp } from './common';

/** What the dashboard page needs from the api's configuration; nothing here is secret. */
export const dashboardConfig = z.object({
  ingest_url: z.url().meta({ description: 'Origin of the ingest service, for the tracker snippet' }),
  signup_open: z.boolean().meta({ description: 'Whether anyone may sign up' }),
});

export const shareTokenParams = z.strictObject({
  site_key: z.string().max(100).meta({ description: 'The site_key (sk_...) of a site with public_stats on' }),
});

/** Only what a public dashboard shows: no id, settings, keys or team. */
export const publicSite = z.object({
  site_key: z.string(),
  domain: z.string(),
  name: z.string(),
  timezone: z.string(),
});

export const shareToken = z.object({
  token: z.string().meta({
    description: 'Bearer token with stats:read on this site only, while public_stats stays on',
  }),
  expires_at: timestamp,
  site: publicSite,
});
