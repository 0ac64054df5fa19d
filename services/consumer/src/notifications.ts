import { createHash } from 'node:crypto';
import type { EnrichedEventV1 } from '@tidemark/events';
import {
  enqueueEventsFanout,
  enqueueGoalCompletions,
  type EventsFanout,
  type GoalCompletion,
  type SiteEventsQueue,
} from '@tidemark/queues';
import { withTimeout } from '@tidemark/runtime';
import { toWebhookEventItem, type WebhookEventItem } from '@tidemark/webhooks';
import type { OffsetMessage, Batch } from './batcher';
import type { ConsumerMetrics } from './metrics';
import type { GoalRule, SiteConfig, SiteConfigCache } from './site-config';
import type { StoredEvents } from './stored-events';

/**
 * The consumer tells the worker about stored events: a `goal-completed` job per event that
 * completes a goal of its site (the worker fires the goal's alerts and `goal.completed` webhooks),
 * and `fanout-events` jobs for sites with `pageview`/`event` webhook subscriptions. It runs after
 * the batch is in ClickHouse and before its offset is committed, so a crash in between replays the
 * batch and asks again; the jobs are idempotent (ids derived from the event, or from the batch's
 * offsets), so asking twice sends once.
 */

export type BatchRef = Pick<Batch<OffsetMessage>, 'topic' | 'slices' | 'dedupToken'>;

export interface Notifier {
  /** Resolves once the worker's jobs for these stored events are in Redis; rejects otherwise. */
  notify(batch: BatchRef, events: StoredEvents): Promise<void>;
}

/** Room for the `.<n>` suffix fan-out adds per 100 events, within the job schema's 200 characters. */
const MAX_BATCH_KEY = 190;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Identifies the batch by its offsets, so a replay of the same ranges yields the same jobs: a
 * one-partition batch as `<topic>-<partition>-<first>-<last>`, one over several partitions by a
 * hash of its token (which names every range). Kafka topic names only hold the characters job ids
 * allow; an unusually long one is hashed.
 */
export function batchKey({ topic, slices, dedupToken }: BatchRef): string {
  const [only] = slices;
  const ranges =
    slices.length === 1 && only
      ? `${only.partition}-${only.first}-${only.last}`
      : `x${sha256(dedupToken).slice(0, 40)}`;
  const key = `${topic}-${ranges}`;
  if (key.length <= MAX_BATCH_KEY) return key;
  return `${sha256(topic).slice(0, 16)}-${ranges}`;
}

/** Same rule as the api's `events_last_30d` and the stats `goal` filter: page goals count pageviews. */
export function completesGoal(goal: GoalRule, event: Pick<EnrichedEventV1, 'name' | 'pathname'>): boolean {
  if (goal.eventName !== null) return event.name === goal.eventName;
  if (event.name !== 'pageview' || goal.pagePath === null) return false;
  return goal.pagePath.endsWith('*')
    ? event.pathname.startsWith(goal.pagePath.slice(0, -1))
    : event.pathname === goal.pagePath;
}

export interface WorkerJobs {
  goals: GoalCompletion[];
  fanouts: EventsFanout[];
}

/** The jobs a stored batch calls for, given each site's config (sites without one call for none). */
export function planJobs(
  events: readonly EnrichedEventV1[],
  configs: ReadonlyMap<string, SiteConfig>,
  key: string,
): WorkerJobs {
  const goals: GoalCompletion[] = [];
  const fanout = new Map<string, WebhookEventItem[]>();
  for (const event of events) {
    const config = configs.get(event.site_id);
    if (!config) continue;
    for (const goal of config.goals) {
      if (completesGoal(goal, event)) {
        goals.push({
          siteId: event.site_id,
          goalName: goal.name,
          eventId: event.event_id,
          at: event.timestamp,
        });
      }
    }
    if (config.fanout.has(event.name === 'pageview' ? 'pageview' : 'event')) {
      const items = fanout.get(event.site_id) ?? [];
      items.push(toWebhookEventItem(event));
      fanout.set(event.site_id, items);
    }
  }
  return {
    goals,
    fanouts: [...fanout].map(([siteId, items]) => ({ siteId, batchKey: key, events: items })),
  };
}

export interface BatchNotifierOptions {
  configs: SiteConfigCache;
  queue: SiteEventsQueue;
  metrics: ConsumerMetrics;
  /**
   * One attempt at most, so the loader regains control (heartbeats, shutdown) and retries with
   * backoff; an attempt that finishes late is harmless, its jobs are the same.
   */
  timeoutMs: number;
}

export class BatchNotifier implements Notifier {
  constructor(private readonly opts: BatchNotifierOptions) {}

  async notify(batch: BatchRef, events: StoredEvents): Promise<void> {
    if (events.length === 0) return;
    await withTimeout(
      this.enqueue(batch, events),
      this.opts.timeoutMs,
      `the worker's jobs were not enqueued within ${this.opts.timeoutMs} ms`,
    );
  }

  private async enqueue(batch: BatchRef, events: StoredEvents): Promise<void> {
    const { queue, metrics } = this.opts;
    const configs = await this.opts.configs.get(events.siteIds());
    const sites = new Set<string>();
    for (const [site, config] of configs)
      if (config.goals.length > 0 || config.fanout.size > 0) sites.add(site);
    // Most batches call for nothing: they then parse no event again and never wait on Redis.
    if (sites.size === 0) return;
    const jobs = planJobs(events.of(sites), configs, batchKey(batch));
    if (jobs.goals.length === 0 && jobs.fanouts.length === 0) return;
    await Promise.all([
      enqueueGoalCompletions(queue, jobs.goals),
      ...jobs.fanouts.map((fanout) => enqueueEventsFanout(queue, fanout)),
    ]);
    metrics.workerNotifications.inc({ kind: 'goal_completed' }, jobs.goals.length);
    metrics.workerNotifications.inc(
      { kind: 'fanout_events' },
      jobs.fanouts.reduce((n, f) => n + f.events.length, 0),
    );
  }
}
