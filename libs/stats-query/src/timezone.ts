import { formatYmd, type LocalDate } from './calendar';

/**
 * Offsets and wall-clock times of IANA zones, from the ICU data `Intl.DateTimeFormat` carries.
 * Every function takes instants as epoch milliseconds; offsets are `local − UTC` in milliseconds.
 */

export const HOUR_MS = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

// Names only: letters, digits and `_ + - /` (Etc/GMT+5, America/Port-au-Prince). The value also
// travels to ClickHouse, so nothing else may pass even if ICU were lenient.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

/** True when `timeZone` is an IANA name this runtime knows (aliases such as `UTC` included). */
export function isValidTimeZone(timeZone: string): boolean {
  if (!ZONE_NAME.test(timeZone)) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function assertTimeZone(timeZone: string): void {
  if (!isValidTimeZone(timeZone)) throw new Error(`unknown IANA timezone: ${JSON.stringify(timeZone)}`);
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallTimeAt(timeZone: string, instantMs: number): WallTime {
  const wall: WallTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(instantMs)) {
    if (part.type in wall) wall[part.type as keyof WallTime] = Number(part.value);
  }
  return wall;
}

/** Epoch milliseconds of a wall time read as if it were UTC: the "local timeline". */
function wallMs(w: WallTime): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

/** `local − UTC` at an instant, in milliseconds (+05:45 → 20_700_000). */
export function offsetAt(timeZone: string, instantMs: number): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallMs(wallTimeAt(timeZone, whole)) - whole;
}

export function localDateAt(timeZone: string, instantMs: number): LocalDate {
  const w = wallTimeAt(timeZone, instantMs);
  return formatYmd(w.year, w.month, w.day);
}

/**
 * The first instant in `(lo, hi]` whose offset differs from `offsetAt(lo)`, given that `hi`'s
 * does. Zone transitions fall on whole seconds, so a binary search over seconds is exact.
 */
function transitionBetween(timeZone: string, lo: number, hi: number): number {
  const before = offsetAt(timeZone, lo);
  let a = Math.floor(lo / 1000);
  let b = Math.ceil(hi / 1000);
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (offsetAt(timeZone, mid * 1000) === before) a = mid;
    else b = mid;
  }
  return b * 1000;
}

/**
 * The UTC instant of a local wall time, deterministic at transitions: a time that occurs twice
 * (the repeated hour when clocks go back) resolves to the earlier instant; a time that never
 * occurs (skipped when clocks go forward) resolves to the first instant after the gap, which is
 * the transition itself. So a local day whose midnight is skipped starts when the day actually
 * begins (01:00 in America/Havana on its spring-forward day).
 */
export function resolveLocalTime(timeZone: string, date: LocalDate, hour = 0, minute = 0): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const wall = wallMs({ year: y, month: m, day: d, hour, minute, second: 0 });
  // Any valid instant t satisfies t + offset(t) = wall with |offset| <= 26 h, so it lies within a
  // day of `wall`; sampling the offsets a day either side catches both sides of a transition.
  const offsets = new Set([
    offsetAt(timeZone, wall - 86_400_000),
    offsetAt(timeZone, wall),
    offsetAt(timeZone, wall + 86_400_000),
  ]);
  const candidates = [...offsets].map((o) => wall - o).sort((a, b) => a - b);
  const valid = candidates.find((t) => t + offsetAt(timeZone, t) === wall);
  if (valid !== undefined) return valid;
  // A gap: wall − offset_after lies before the transition and wall − offset_before after it.
  return transitionBetween(timeZone, candidates[0]!, candidates[candidates.length - 1]!);
}

const mod = (a: number, n: number) => ((a % n) + n) % n;

/**
 * Start of the local hour containing `instantMs`: the last local `HH:00` at or before it, or the
 * last offset transition if one came in between (a 30-minute DST shift, as on Lord Howe Island,
 * starts a short hour). A repeated hour (clocks going back) is two separate hours.
 */
export function hourStart(timeZone: string, instantMs: number): number {
  const offset = offsetAt(timeZone, instantMs);
  const candidate = instantMs - mod(instantMs + offset, HOUR_MS);
  if (offsetAt(timeZone, candidate) === offset) return candidate;
  return transitionBetween(timeZone, candidate, instantMs);
}

/** The next local hour boundary after `instantMs` (itself a boundary or not). */
export function nextHourStart(timeZone: string, instantMs: number): number {
  const offset = offsetAt(timeZone, instantMs);
  const next = instantMs - mod(instantMs + offset, HOUR_MS) + HOUR_MS;
  // A transition strictly inside the hour ends it early.
  if (offsetAt(timeZone, next - 1000) !== offset) return transitionBetween(timeZone, instantMs, next - 1000);
  return next;
}

/**
 * The key SQL computes for an hourly bucket (see `sql/buckets.ts`): the index of the local hour on
 * the local timeline, `floor((t + offset(t)) / 3600)`, and the offset itself, in seconds. Constant
 * within a bucket, and distinct between buckets even where the local hour alone repeats (the two
 * 02:00 hours of a fall-back night) or two hours share a UTC start (Chatham's 45-minute-aligned
 * shift). Plain arithmetic on the offset, which SQL gets from `offsetSchedule`.
 */
export function hourKey(timeZone: string, instantMs: number): string {
  const offsetSeconds = offsetAt(timeZone, instantMs) / 1000;
  const localHour = Math.floor((Math.floor(instantMs / 1000) + offsetSeconds) / 3600);
  return `${localHour}/${offsetSeconds}`;
}

/** The offsets in force over a time range: `initial` from its start, then each change in order. */
export interface OffsetSchedule {
  /** Seconds. */
  initial: number;
  changes: Array<{ atMs: number; offset: number }>;
}

/**
 * Every offset change of a zone within `[fromMs, toMs]`, found by stepping a day at a time (zones
 * never change twice within a day) and locating each change to the second. SQL buckets by these
 * offsets instead of ClickHouse's own zone data, which disagrees with the IANA rules for zones
 * that crossed the date line (it puts Pacific/Kiritimati at −10:00, not +14:00) and rounds hours
 * wrongly around 30-minute shifts; one source of zone rules keeps SQL keys and bucket starts equal.
 */
export function offsetSchedule(timeZone: string, fromMs: number, toMs: number): OffsetSchedule {
  const initial = offsetAt(timeZone, fromMs);
  const changes: OffsetSchedule['changes'] = [];
  let current = initial;
  for (let t = fromMs; t < toMs;) {
    const next = Math.min(t + 86_400_000, toMs);
    if (offsetAt(timeZone, next) === current) {
      t = next;
      continue;
    }
    const at = transitionBetween(timeZone, t, next);
    current = offsetAt(timeZone, at);
    changes.push({ atMs: at, offset: current / 1000 });
    t = at;
  }
  return { initial: initial / 1000, changes };
}
