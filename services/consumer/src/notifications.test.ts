import { randomUUID } from 'node:crypto';
import type { EnrichedEventV1 } from '@tidemark/events';
import { createLogger } from '@tidemark/logging';
import { siteEventsJob, type SiteEventsQueue } from '@tidemark/queues';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { dedupToken, type Range } from './batcher';
import { createConsumerMetrics } from './metrics';
import { BatchNotifier, batchKey, completesGoal, planJobs } from './notifications';
import { StoredEvents } from './stored-events';
import { SiteConfigCache, type SiteConfig } from './site-config';

const SITE = randomUUID();
const OTHER = randomUUID();

const event = (over: Partial<EnrichedEventV1> = {}): EnrichedEventV1 => ({
  v: 1,
  event_id: randomUUID(),
  site_id: SITE,
  timestamp: '2026-03-06T08:00:00.123Z',
  name: 'pageview',
  visitor_id: '42',
  session_id: '43',
  hostname: 'example.com',
  pathname: '/',
  referrer: '',
  referrer_domain: '',
  channel: 'Direct',
  utm_source: '',
  utm_medium: '',
  utm_campaign: '',
  utm_content: '',
  utm_term: '',
  country: 'FR',
  region: '',
  city: '',
  device: 'Desktop',
  browser: 'Firefox',
  browser_version: '1',
  os: 'Linux',
  os_version: '1',
  screen_width: 1280,
  props: {},
  revenue_amount: null,
  revenue_currency: '',
  engagement_time_ms: 0,
  scroll_pct: 0,
  click_x: null,
  click_y: null,
  link_url: '',
  ...over,
});

const config = (over: Partial<SiteConfig> = {}): SiteConfig => ({ goals: [], fanout: new Set(), ...over });

const ref = (topic: string, ranges: Range[]) => ({
  topic,
  slices: ranges.map((r) => ({ ...r, messages: [] })),
  dedupToken: dedupToken(topic, ranges),
});

describe('goal matching', () => {
  const goal = (eventName: string | null, pagePath: string | null) => ({ name: 'g', eventName, pagePath });

  it.each([
    [goal('signup', null), { name: 'signup', pathname: '/x' }, true],
    [goal('signup', null), { name: 'Signup', pathname: '/x' }, false],
    [goal('pageview', null), { name: 'pageview', pathname: '/x' }, true],
    [goal(null, '/pricing'), { name: 'pageview', pathname: '/pricing' }, true],
    [goal(null, '/pricing'), { name: 'pageview', pathname: '/pricing/' }, false],
    [goal(null, '/pricing'), { name: 'click', pathname: '/pricing' }, false],
    [goal(null, '/blog/*'), { name: 'pageview', pathname: '/blog/' }, true],
    [goal(null, '/blog/*'), { name: 'pageview', pathname: '/blog/a/b' }, true],
    [goal(null, '/blog/*'), { name: 'pageview', pathname: '/blogger' }, false],
    [goal(null, '/*'), { name: 'pageview', pathname: '/anything' }, true],
  ])('%j completed by %j: %s', (g, e, expected) => {
    expect(completesGoal(g, e)).toBe(expected);
  });
});

describe('planning the worker jobs of a batch', () => {
  it('asks for one goal-completed job per goal an event completes, and none for sites without goals', () => {
    const configs = new Map([
      [
        SITE,
        config({
          goals: [
            { name: 'Signup', eventName: 'signup', pagePath: null },
            { name: 'Thanks page', eventName: null, pagePath: '/thanks*' },
            { name: 'Any page', eventName: null, pagePath: '/*' },
          ],
        }),
      ],
      [OTHER, config()],
    ]);
    const signup = event({ name: 'signup' });
    const thanks = event({ pathname: '/thanks/you' });
    const elsewhere = event({ site_id: OTHER, name: 'signup' });
    const jobs = planJobs([signup, thanks, elsewhere], configs, 'k');
    expect(jobs.goals).toEqual([
      { siteId: SITE, goalName: 'Signup', eventId: signup.event_id, at: signup.timestamp },
      { siteId: SITE, goalName: 'Thanks page', eventId: thanks.event_id, at: thanks.timestamp },
      { siteId: SITE, goalName: 'Any page', eventId: thanks.event_id, at: thanks.timestamp },
    ]);
    expect(jobs.fanouts).toEqual([]);
  });

  it('fans out only the subscribed types, per site, as webhook items', () => {
    const configs = new Map([
      [SITE, config({ fanout: new Set(['event'] as const) })],
      [OTHER, config({ fanout: new Set(['pageview', 'event'] as const) })],
    ]);
    const events = [
      event(),
      event({ name: 'signup', props: { plan: 'pro' }, revenue_amount: 9.5, revenue_currency: 'EUR' }),
      event({ site_id: OTHER }),
      event({ site_id: OTHER, name: 'download' }),
    ];
    const jobs = planJobs(events, configs, 'events.v1-3-10-13');
    expect(jobs.fanouts.map((f) => [f.siteId, f.events.map((e) => e.name)])).toEqual([
      [SITE, ['signup']],
      [OTHER, ['pageview', 'download']],
    ]);
    expect(jobs.fanouts[0]!.events[0]).toMatchObject({
      event_id: events[1]!.event_id,
      props: { plan: 'pro' },
      revenue: { amount: 9.5, currency: 'EUR' },
    });
    expect(jobs.fanouts[0]!.events[0]).not.toHaveProperty('visitor_id');
    for (const f of jobs.fanouts) {
      const job = { type: 'fanout-events', siteId: f.siteId, batchKey: `${f.batchKey}.0`, events: f.events };
      expect(siteEventsJob.safeParse(job).success).toBe(true);
    }
  });

  it('keys a batch by its topic and offsets, within the job id alphabet and length', () => {
    const key = batchKey(ref('tidemark.events.v1', [{ partition: 3, first: '100', last: '349' }]));
    expect(key).toBe('tidemark.events.v1-3-100-349');
    const long = batchKey(
      ref('t'.repeat(249), [{ partition: 11, first: '9'.repeat(19), last: '9'.repeat(19) }]),
    );
    expect(long).toMatch(/^[0-9a-f]{16}-11-9{19}-9{19}$/);
    expect(batchKey(ref('u'.repeat(249), [{ partition: 11, first: '1', last: '2' }]))).not.toBe(
      batchKey(ref('t'.repeat(249), [{ partition: 11, first: '1', last: '2' }])),
    );
  });

  it('keys a batch over several partitions by all its ranges, the same on a replay', () => {
    const ranges = [
      { partition: 0, first: '10', last: '19' },
      { partition: 7, first: '500', last: '520' },
    ];
    const key = batchKey(ref('tidemark.events.v1', ranges));
    expect(key).toMatch(/^tidemark\.events\.v1-x[0-9a-f]{40}$/);
    expect(batchKey(ref('tidemark.events.v1', [...ranges].reverse()))).toBe(key);
    expect(
      batchKey(ref('tidemark.events.v1', [ranges[0]!, { partition: 7, first: '500', last: '521' }])),
    ).not.toBe(key);
    expect(batchKey(ref('t'.repeat(249), ranges)).length).toBeLessThanOrEqual(190);
  });
});

describe('BatchNotifier', () => {
  const logger = createLogger({ name: 'test', level: 'silent' });
  const stored = (...events: EnrichedEventV1[]) => {
    const all = new StoredEvents();
    for (const e of events) all.add(Buffer.from(JSON.stringify(e)), e);
    return all;
  };

  function setup(
    rows: Array<{ ref: string; goals: unknown[]; fanout: string[] }>,
    queue: Partial<SiteEventsQueue>,
  ) {
    const metrics = createConsumerMetrics(new Registry());
    const configs = new SiteConfigCache({
      pool: { query: (async () => ({ rows })) as never },
      ttlMs: 10_000,
      logger,
      onStale: () => {},
    });
    const notifier = new BatchNotifier({ configs, queue: queue as SiteEventsQueue, metrics, timeoutMs: 200 });
    return { notifier, metrics };
  }
  const batch = ref('t', [{ partition: 0, first: '0', last: '9' }]);

  it('never touches Redis when the batch calls for no job', async () => {
    const { notifier } = setup([{ ref: SITE, goals: [], fanout: [] }], {
      addBulk: () => {
        throw new Error('Redis was asked');
      },
    });
    await notifier.notify(batch, stored(event(), event({ name: 'signup' })));
  });

  it('enqueues goal completions and fan-out, and counts them', async () => {
    const added: Array<{ name: string; opts: { jobId?: string } }> = [];
    const { notifier, metrics } = setup(
      [
        {
          ref: SITE,
          goals: [{ name: 'Signup', event_name: 'signup', page_path: null }],
          fanout: ['pageview'],
        },
      ],
      { addBulk: (async (jobs: typeof added) => void added.push(...jobs)) as never },
    );
    await notifier.notify(batch, stored(event(), event({ name: 'signup' })));
    expect(added.map((j) => j.name).sort()).toEqual(['fanout-events', 'goal-completed']);
    expect(added.find((j) => j.name === 'fanout-events')!.opts.jobId).toBe(`fanout_${SITE}_t-0-0-9.0`);
    expect(await metrics.workerNotifications.get()).toMatchObject({
      values: expect.arrayContaining([
        expect.objectContaining({ labels: { kind: 'goal_completed' }, value: 1 }),
        expect.objectContaining({ labels: { kind: 'fanout_events' }, value: 1 }),
      ]),
    });
  });

  it('fails an attempt that Redis does not answer in time, so the loader can back off and retry', async () => {
    const { notifier } = setup(
      [{ ref: SITE, goals: [{ name: 'S', event_name: 'signup', page_path: null }], fanout: [] }],
      {
        addBulk: (() => new Promise(() => {})) as never,
      },
    );
    await expect(notifier.notify(batch, stored(event({ name: 'signup' })))).rejects.toThrow(
      /not enqueued within 200 ms/,
    );
  });
});
