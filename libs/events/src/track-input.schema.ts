import { z } from 'zod';

/**
 * The tracker's wire format (API.md "Tracking"). Limits are generous for real pages and tight
 * enough that one beacon cannot make a row that hurts the whole table.
 */
export const TRACK_LIMITS = {
  singleBodyBytes: 64 * 1024,
  batchBodyBytes: 1024 * 1024,
  batchMaxEvents: 100,
  urlMaxLength: 2048,
  nameMaxLength: 120,
  propsMaxKeys: 30,
  propKeyMaxLength: 64,
  propValueMaxLength: 512,
} as const;

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const noControl = (s: string) => !CONTROL_CHARS.test(s);

const httpUrl = z
  .string()
  .max(TRACK_LIMITS.urlMaxLength, { error: `must be at most ${TRACK_LIMITS.urlMaxLength} characters` })
  .refine(noControl, { error: 'must not contain control characters' })
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: 'must be an absolute http(s) URL' },
  );

const propValue = z.union([
  z
    .string()
    .max(TRACK_LIMITS.propValueMaxLength, {
      error: `must be at most ${TRACK_LIMITS.propValueMaxLength} characters`,
    })
    .refine(noControl, { error: 'must not contain control characters' }),
  z.number().finite(),
  z.boolean(),
]);

export const trackEventInput = z.strictObject({
  site_key: z.string().regex(/^sk_[A-Za-z0-9]{8,64}$/, { error: 'must be a site key starting with sk_' }),
  name: z
    .string()
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(TRACK_LIMITS.nameMaxLength, { error: `must be at most ${TRACK_LIMITS.nameMaxLength} characters` })
    .refine(noControl, { error: 'must not contain control characters' }),
  url: httpUrl,
  referrer: z.union([httpUrl, z.literal('')]).optional(),
  props: z
    .record(
      z
        .string()
        .min(1)
        .max(TRACK_LIMITS.propKeyMaxLength, {
          error: `keys must be at most ${TRACK_LIMITS.propKeyMaxLength} characters`,
        })
        .refine(noControl, { error: 'keys must not contain control characters' }),
      propValue,
    )
    .refine((p) => Object.keys(p).length <= TRACK_LIMITS.propsMaxKeys, {
      error: `must have at most ${TRACK_LIMITS.propsMaxKeys} properties`,
    })
    .optional(),
  revenue: z
    .strictObject({
      amount: z.number().finite().min(-1e12).max(1e12),
      currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as EUR' }),
    })
    .optional(),
  screen_width: z.number().int().min(0).max(100_000).optional(),
  engagement: z
    .strictObject({
      time_ms: z
        .number()
        .int()
        .min(0)
        .max(24 * 3600 * 1000),
      scroll_pct: z.number().min(0).max(100),
    })
    .optional(),
  click: z.strictObject({ x: z.number().min(0).max(1), y: z.number().min(0).max(1) }).optional(),
  link: z.strictObject({ url: httpUrl }).optional(),
  event_id: z.uuid({ error: 'must be a UUID' }).optional(),
});

export type TrackEventInput = z.infer<typeof trackEventInput>;

export const trackBatchInput = z.strictObject({
  events: z
    .array(z.unknown())
    .min(1, { error: 'must hold at least one event' })
    .max(TRACK_LIMITS.batchMaxEvents, { error: `must hold at most ${TRACK_LIMITS.batchMaxEvents} events` }),
});
