import { parseDurationList } from './duration';

/** The contract's schedule: the delays after the 1st, 2nd, ... failed attempt (about 28 h in all). */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';
export const DEFAULT_RETRY_SCHEDULE_MS = parseDurationList(DEFAULT_RETRY_SCHEDULE);

/** ±20%: endpoints that failed together (an outage) do not all get retried in the same second. */
export const RETRY_JITTER = 0.2;

export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 + (random() * 2 - 1) * RETRY_JITTER));
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Null when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return null;
  if (/^\d+$/.test(raw)) return Number(raw) * 1_000;
  // Every HTTP date form names the month; without this, Date.parse takes "-5" or "1.5" for years.
  if (!/[A-Za-z]{3}/.test(raw)) return null;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

export interface NextRetryInput {
  /** Attempts made so far, the failed one included (1 after the first failure). */
  attemptsMade: number;
  /** Delays in milliseconds after each failed attempt. */
  schedule: readonly number[];
  /** What the receiver asked for in `Retry-After`, if anything. */
  retryAfterMs?: number | null;
  random?: () => number;
}

/**
 * Delay before the next attempt, or null when the schedule is used up. A receiver's `Retry-After`
 * can push an attempt later, never earlier, and never beyond the schedule's longest step, so a
 * receiver cannot park a delivery for weeks.
 */
export function nextRetryDelay({
  attemptsMade,
  schedule,
  retryAfterMs,
  random,
}: NextRetryInput): number | null {
  const step = schedule[attemptsMade - 1];
  if (step === undefined) return null;
  const scheduled = withJitter(step, random);
  if (retryAfterMs == null) return scheduled;
  const cap = Math.max(...schedule);
  return Math.max(scheduled, Math.min(retryAfterMs, cap));
}
