import { ApiError } from '@tidemark/http';

/** The filter parameters of API.md's Stats section, besides `prop:<name>`. */
export const FILTER_KEYS = [
  'page',
  'entry_page',
  'exit_page',
  'hostname',
  'referrer',
  'channel',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'country',
  'region',
  'city',
  'device',
  'browser',
  'os',
  'event',
  'goal',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export const PROP_PREFIX = 'prop:';

/**
 * A parsed filter: matches when the value is any of `values` (`a|b`), or none of them when
 * `negated` (`!a|b`). In the keys of WILDCARD_KEYS a `*` inside a value matches any run of
 * characters; everywhere else it is a literal `*`.
 */
export type Filter =
  | { key: FilterKey; negated: boolean; values: readonly string[] }
  | { key: 'prop'; name: string; negated: boolean; values: readonly string[] };

export const WILDCARD_KEYS: ReadonlySet<string> = new Set(['page', 'entry_page', 'exit_page', 'hostname']);

/**
 * How a filter applies (API.md): event-level filters select events, and visit metrics then count
 * the visits holding a selected event; session-level ones select visits by a property of the visit
 * (its first or last event). Visitor-level ones are properties of the event that are constant for a
 * whole visit (they derive from the IP and user agent, which also determine the visitor id and so
 * the session), so they can be read from either the event or the visit with the same answer.
 */
export type FilterLevel = 'event' | 'visitor' | 'session';

const LEVEL: Record<FilterKey | 'prop', FilterLevel> = {
  page: 'event',
  hostname: 'event',
  event: 'event',
  goal: 'event',
  prop: 'event',
  country: 'visitor',
  region: 'visitor',
  city: 'visitor',
  device: 'visitor',
  browser: 'visitor',
  os: 'visitor',
  entry_page: 'session',
  exit_page: 'session',
  referrer: 'session',
  channel: 'session',
  utm_source: 'session',
  utm_medium: 'session',
  utm_campaign: 'session',
  utm_content: 'session',
  utm_term: 'session',
};

export function filterLevel(filter: Filter): FilterLevel {
  return LEVEL[filter.key];
}

/** The level of a filter key, whatever its value. */
export function keyLevel(key: FilterKey): FilterLevel {
  return LEVEL[key];
}

/** The query parameter a filter came from, for error messages. */
export function filterParam(filter: Filter): string {
  return filter.key === 'prop' ? `${PROP_PREFIX}${filter.name}` : filter.key;
}

export function isFilterKey(name: string): name is FilterKey {
  return (FILTER_KEYS as readonly string[]).includes(name);
}

export const MAX_FILTER_VALUES = 100;
export const MAX_FILTER_VALUE_LENGTH = 2048;
const MAX_PROP_NAME_LENGTH = 300;

function invalid(param: string, message: string): ApiError {
  return new ApiError('invalid_request', `\`${param}\` ${message}`, { [param]: [message] });
}

/** `US`, `!US|CA`, `/blog/*|/docs/*` → negation and the list of values. */
function parseList(param: string, raw: string): { negated: boolean; values: string[] } {
  const negated = raw.startsWith('!');
  const values = (negated ? raw.slice(1) : raw).split('|');
  if (values.some((v) => v === ''))
    throw invalid(param, 'has an empty value; write `a|b`, `!a|b` or one value');
  if (values.length > MAX_FILTER_VALUES) throw invalid(param, `takes at most ${MAX_FILTER_VALUES} values`);
  if (values.some((v) => v.length > MAX_FILTER_VALUE_LENGTH)) {
    throw invalid(param, `values are at most ${MAX_FILTER_VALUE_LENGTH} characters`);
  }
  return { negated, values: [...new Set(values)] };
}

/**
 * Parses one filter parameter (`country`, `prop:plan`, ...). Country codes are ISO 3166-1 alpha-2
 * and compared upper-case, as ingest stores them.
 */
export function parseFilter(param: string, raw: string): Filter {
  if (param.startsWith(PROP_PREFIX)) {
    const name = param.slice(PROP_PREFIX.length);
    if (name === '' || name.length > MAX_PROP_NAME_LENGTH) {
      throw invalid(param, `needs a property name of 1 to ${MAX_PROP_NAME_LENGTH} characters`);
    }
    return { key: 'prop', name, ...parseList(param, raw) };
  }
  if (!isFilterKey(param)) throw invalid(param, 'is not a known filter');
  const list = parseList(param, raw);
  if (param === 'country') {
    if (list.values.some((v) => !/^[A-Za-z]{2}$/.test(v))) {
      throw invalid(param, 'takes ISO 3166-1 alpha-2 country codes such as US');
    }
    list.values = list.values.map((v) => v.toUpperCase());
  }
  return { key: param, ...list };
}

/** True when the value is a pattern: it holds `*` and the filter's key takes wildcards. */
export function isPattern(key: Filter['key'], value: string): boolean {
  return WILDCARD_KEYS.has(key) && value.includes('*');
}
