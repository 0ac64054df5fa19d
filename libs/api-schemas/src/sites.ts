import { z } from 'zod';
import { checked, label, timestamp, uuid } from './common';
import {
  countryProblem,
  currencyProblem,
  hostNameProblem,
  hostPatternProblem,
  ipOrCidrProblem,
  normalizeTimeZone,
  pathGlobProblem,
} from './validators';

const MAX_ENTRIES = 100;
const entries = <T extends z.ZodType<string>>(item: T) =>
  z
    .array(item)
    .max(MAX_ENTRIES, `must have at most ${MAX_ENTRIES} entries`)
    .transform((list) => [...new Set(list)]);

export const domain = z
  .string()
  .max(253, 'must be at most 253 characters')
  .trim()
  .toLowerCase()
  .superRefine(checked(hostNameProblem));

export const timezone = z
  .string()
  .max(64, 'must be at most 64 characters')
  .transform((value, ctx) => {
    const zone = normalizeTimeZone(value.trim());
    if (zone) return zone;
    ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Europe/Paris or UTC' });
    return z.NEVER;
  });

export const currency = z
  .string()
  .max(3, 'must be a 3-letter code')
  .toUpperCase()
  .superRefine(checked(currencyProblem));

export const siteSettingsInput = z.strictObject({
  excluded_ips: entries(
    z.string().max(64, 'must be at most 64 characters').trim().superRefine(checked(ipOrCidrProblem)),
  ).optional(),
  excluded_paths: entries(
    z.string().max(512, 'must be at most 512 characters').superRefine(checked(pathGlobProblem)),
  ).optional(),
  excluded_countries: entries(
    z.string().max(2, 'must be a 2-letter code').toUpperCase().superRefine(checked(countryProblem)),
  ).optional(),
  allowed_hostnames: entries(
    z
      .string()
      .max(255, 'must be at most 255 characters')
      .trim()
      .toLowerCase()
      .superRefine(checked(hostPatternProblem)),
  ).optional(),
});

export const createSiteBody = z.strictObject({
  domain,
  name: label(),
  timezone: timezone.optional(),
  public_stats: z.boolean().optional(),
  currency: currency.optional(),
  settings: siteSettingsInput.optional(),
});

export const updateSiteBody = z
  .strictObject({
    domain: domain.optional(),
    name: label().optional(),
    timezone: timezone.optional(),
    public_stats: z.boolean().optional(),
    currency: currency.optional(),
    settings: siteSettingsInput.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    error: 'send at least one of name, domain, timezone, public_stats, currency, settings',
    // Only for an otherwise valid body: with unknown or invalid fields, those are the news.
    when: (payload) => payload.issues.length === 0,
  });

export const siteSettings = z.object({
  excluded_ips: z.array(z.string()),
  excluded_paths: z.array(z.string()),
  excluded_countries: z.array(z.string()),
  allowed_hostnames: z.array(z.string()),
});

export const site = z.object({
  id: uuid,
  domain: z.string(),
  name: z.string(),
  site_key: z
    .string()
    .meta({ description: 'Public key for the tracker tag; starts with sk_ and never changes' }),
  timezone: z.string(),
  public_stats: z.boolean(),
  currency: z.string(),
  events_this_month: z.number().int().nullable().meta({
    description: 'Events since the start of the calendar month (UTC); null while ClickHouse is unreachable',
  }),
  settings: siteSettings,
  created_at: timestamp,
});
