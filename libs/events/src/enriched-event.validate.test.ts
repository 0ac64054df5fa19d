import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anEnrichedEvent as event } from '../../../test/support/events';
import { enrichedEventV1, type EnrichedEventV1 } from './enriched-event.schema';
import { isEnrichedEventV1, parseEnrichedEventV1 } from './enriched-event.validate';

const with_ = (field: string, value: unknown) => ({ ...event, [field]: value });
const without = (field: keyof EnrichedEventV1) => {
  const copy: Record<string, unknown> = { ...event };
  delete copy[field];
  return copy;
};
// Characters outside the BMP: two UTF-16 code units each, one code point (what both count).
const astral = (units: number) => '😀'.repeat(units / 2);

/** Values around every rule of the contract, valid and not. */
const cases: [string, unknown][] = [
  ['the event', event],
  [
    'a page view without props or revenue',
    { ...event, props: {}, revenue_amount: null, revenue_currency: '' },
  ],
  ['v 2', with_('v', 2)],
  ['v as a string', with_('v', '1')],
  ['an unknown field', { ...event, ip: '203.0.113.9' }],
  ['a __proto__ field', JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(event).slice(1)}`)],
  ['no site_id', without('site_id')],
  ['no props', without('props')],
  ['an upper-case uuid', with_('event_id', '0B5A7F5E-93C5-4A4B-9D3C-0A3A9D2E4F10')],
  ['a uuid of version 0', with_('event_id', '0b5a7f5e-93c5-0a4b-9d3c-0a3a9d2e4f10')],
  ['the nil uuid', with_('site_id', '00000000-0000-0000-0000-000000000000')],
  ['a uuid without dashes', with_('site_id', '5f1c2f9e1d2b4c3a8e7f6a5b4c3d2e1f')],
  ['a timestamp with an offset', with_('timestamp', '2026-03-06T08:00:00.123+01:00')],
  ['a timestamp in seconds', with_('timestamp', '2026-03-06T08:00:00Z')],
  ['a leap day', with_('timestamp', '2028-02-29T23:59:59.999Z')],
  ['a leap day of a common year', with_('timestamp', '2026-02-29T00:00:00.000Z')],
  ['an empty name', with_('name', '')],
  ['a 120-character name', with_('name', 'n'.repeat(120))],
  ['a 121-character name', with_('name', 'n'.repeat(121))],
  ['a visitor id of 21 digits', with_('visitor_id', '1'.repeat(21))],
  ['a negative session id', with_('session_id', '-1')],
  ['a numeric session id', with_('session_id', 42)],
  ['a pathname of 2,048 characters', with_('pathname', '/'.repeat(2048))],
  ['a pathname of 2,049 characters', with_('pathname', '/'.repeat(2049))],
  ['a pathname of 2,048 UTF-16 units in astral characters', with_('pathname', astral(2048))],
  ['a pathname of 2,050 UTF-16 units in 1,025 astral characters', with_('pathname', astral(2050))],
  ['a region of 130 UTF-16 units in 65 astral characters', with_('region', astral(130))],
  ['a lower-case country', with_('country', 'np')],
  ['a three-letter country', with_('country', 'NPL')],
  ['no country', with_('country', '')],
  ['a fractional screen width', with_('screen_width', 1440.5)],
  ['a negative screen width', with_('screen_width', -1)],
  ['a screen width over 2^53', with_('screen_width', 2 ** 53)],
  ['a null screen width', with_('screen_width', null)],
  ['a numeric prop', with_('props', { plan: 1 })],
  ['props as an array', with_('props', ['pro'])],
  ['a revenue amount as a string', with_('revenue_amount', '19.99')],
  ['a negative revenue amount', with_('revenue_amount', -5)],
  ['a lower-case currency', with_('revenue_currency', 'eur')],
  ['scroll 100.5', with_('scroll_pct', 100.5)],
  ['scroll 99.5', with_('scroll_pct', 99.5)],
  ['click 0.5', with_('click_x', 0.5)],
  ['click 1.5', with_('click_y', 1.5)],
  ['a negative engagement time', with_('engagement_time_ms', -1)],
  ['null', null],
  ['an array', [event]],
  ['a string', 'pageview'],
];

describe('isEnrichedEventV1', () => {
  it.each(cases)('answers as the zod contract does: %s', (_, value) => {
    expect(isEnrichedEventV1(value)).toBe(enrichedEventV1.safeParse(value).success);
  });

  it('accepts the event and refuses what the contract refuses, so the cases above test both ways', () => {
    const answers = cases.map(([, value]) => isEnrichedEventV1(value));
    expect(answers.filter(Boolean).length).toBeGreaterThan(5);
    expect(answers.filter((a) => !a).length).toBeGreaterThan(20);
  });

  it('agrees with zod on events with any field replaced by an arbitrary JSON value', () => {
    const fields = Object.keys(event);
    fc.assert(
      fc.property(
        fc.constantFrom(...fields, 'extra'),
        fc.oneof(
          fc.jsonValue(),
          fc.string({ unit: 'binary', maxLength: 2100 }),
          fc.uuid({ version: [1, 4, 7] }).map(String),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        (field, value) => {
          const candidate = JSON.parse(JSON.stringify(with_(field, value))) as unknown;
          expect(isEnrichedEventV1(candidate)).toBe(enrichedEventV1.safeParse(candidate).success);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('parseEnrichedEventV1', () => {
  it('returns a valid event itself, without copying it', () => {
    const parsed = parseEnrichedEventV1(event);
    expect(parsed.success && parsed.data).toBe(event);
  });

  it("returns zod's issues for an invalid one", () => {
    const parsed = parseEnrichedEventV1(with_('country', 'np'));
    expect(parsed.success).toBe(false);
    expect(!parsed.success && parsed.error.issues.map((i) => i.path.join('.'))).toEqual(['country']);
  });
});
