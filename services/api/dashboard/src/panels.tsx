import { countryName, flag } from './format';
import type { BreakdownTab } from './breakdown-panel';

/** The dashboard's breakdown panels: which properties, which metrics, how values read. */

const direct = (value: string) => value || 'Direct / None';

const capitalized = (value: string) => (value ? value[0]!.toUpperCase() + value.slice(1) : '(unknown)');

export const PAGE_TABS: BreakdownTab[] = [
  { property: 'page', label: 'Top pages', column: 'Page', metrics: ['visitors', 'pageviews'] },
  { property: 'entry_page', label: 'Entry pages', column: 'Entry page', metrics: ['visitors', 'entries'] },
  { property: 'exit_page', label: 'Exit pages', column: 'Exit page', metrics: ['visitors', 'exits'] },
];

export const SOURCE_TABS: BreakdownTab[] = [
  { property: 'channel', label: 'Channels', column: 'Channel', metrics: ['visitors', 'bounce_rate'] },
  {
    property: 'referrer',
    label: 'Sources',
    column: 'Source',
    metrics: ['visitors', 'bounce_rate'],
    render: direct,
  },
];

export const CAMPAIGN_TABS: BreakdownTab[] = (
  ['source', 'medium', 'campaign', 'content', 'term'] as const
).map((part) => ({
  property: `utm_${part}`,
  label: part[0]!.toUpperCase() + part.slice(1),
  column: `UTM ${part}`,
  metrics: ['visitors', 'bounce_rate'],
}));

export const LOCATION_TABS: BreakdownTab[] = [
  {
    property: 'country',
    label: 'Countries',
    column: 'Country',
    metrics: ['visitors', 'pageviews'],
    render: (code) =>
      code ? (
        <>
          <span aria-hidden="true">{flag(code)} </span>
          {countryName(code)}
        </>
      ) : (
        'Unknown'
      ),
    drillTo: 'region',
  },
  {
    property: 'region',
    label: 'Regions',
    column: 'Region',
    metrics: ['visitors', 'pageviews'],
    needsCountry: true,
    drillTo: 'city',
  },
  {
    property: 'city',
    label: 'Cities',
    column: 'City',
    metrics: ['visitors', 'pageviews'],
    needsCountry: true,
  },
];

export const DEVICE_TABS: BreakdownTab[] = [
  {
    property: 'device',
    label: 'Devices',
    column: 'Device',
    metrics: ['visitors', 'visit_duration'],
    render: capitalized,
  },
  { property: 'browser', label: 'Browsers', column: 'Browser', metrics: ['visitors', 'visit_duration'] },
  { property: 'os', label: 'OS', column: 'Operating system', metrics: ['visitors', 'visit_duration'] },
];

export const GOAL_TABS: BreakdownTab[] = [
  { property: 'goal', label: 'Goals', column: 'Goal', metrics: ['visitors', 'events', 'conversion_rate'] },
];
