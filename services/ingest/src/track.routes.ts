import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { ApiError, zodDetails } from '@tidemark/http';
import {
  eventMessageKey,
  TRACK_LIMITS,
  trackBatchInput,
  trackEventInput,
  type TrackEventInput,
} from '@tidemark/events';
import type { GeoDatabase } from '@tidemark/enrichment';
import { enrichEvents, type DropReason, type EnrichResult } from './enrich';
import type { EventSink, OutgoingMessage } from './event-sink';
import type { KnownSite, SiteDirectory } from './site-directory';
import type { VisitorIdentity } from './visitor-identity';

export interface TrackRoutesDeps {
  sites: SiteDirectory;
  sink: EventSink;
  identity: VisitorIdentity;
  geo: GeoDatabase;
  registry: Registry;
  extraBotPatterns: string[];
  /** The clock events are stamped with; tests move it to cross days. */
  now: () => Date;
}

type Outcome =
  | { index: number; status: 'accepted'; event_id: string }
  | { index: number; status: 'dropped'; reason: string };

/** `POST /api/v1/track` and `/api/v1/track/batch`: validate, enrich, and answer 202 once Kafka has the events. */
export async function trackRoutes(app: FastifyInstance, deps: TrackRoutesDeps): Promise<void> {
  const received = new Counter({
    name: 'tidemark_ingest_events_received_total',
    help: 'Events received, by outcome',
    labelNames: ['outcome'],
    registers: [deps.registry],
  });
  const dropped = new Counter({
    name: 'tidemark_ingest_events_dropped_total',
    help: 'Events excluded by rules (bots, excluded IPs/paths/countries, hostnames)',
    labelNames: ['reason'],
    registers: [deps.registry],
  });

  // sendBeacon posts text/plain to avoid a CORS preflight; its body is the same JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(
        new ApiError('invalid_request', `the request body is not valid JSON: ${(err as Error).message}`),
        undefined,
      );
    }
  });

  const context = (req: FastifyRequest) => ({
    ip: req.ip,
    userAgent: String(req.headers['user-agent'] ?? ''),
    receivedAt: deps.now(),
  });

  async function resolveSites(
    events: TrackEventInput[],
    pathOf: (i: number) => string,
  ): Promise<KnownSite[]> {
    const keys = [...new Set(events.map((e) => e.site_key))];
    const found = new Map<string, KnownSite | null>();
    await Promise.all(keys.map(async (k) => found.set(k, await deps.sites.get(k))));
    return events.map((e, i) => {
      const site = found.get(e.site_key);
      if (!site) {
        throw new ApiError('unknown_site', `no site has the key ${e.site_key}`, {
          [pathOf(i)]: ['no site has this key'],
        });
      }
      return site;
    });
  }

  // Children bound once: a labelled inc() hashes its labels on every call.
  const acceptedCount = received.labels({ outcome: 'accepted' });
  const droppedCount = received.labels({ outcome: 'dropped' });
  const droppedBy = new Map<DropReason, ReturnType<typeof dropped.labels>>();
  const countDrop = (reason: DropReason) => {
    let child = droppedBy.get(reason);
    if (!child) droppedBy.set(reason, (child = dropped.labels({ reason })));
    child.inc();
  };

  async function process(req: FastifyRequest, events: TrackEventInput[], pathOf: (i: number) => string) {
    const sites = await resolveSites(events, pathOf);
    // The enriched objects are not kept while Kafka is awaited: only their messages and outcomes.
    const { messages, outcomes } = toMessages(await enrichEvents(events, sites, context(req), deps));
    await deps.sink.send(messages);
    for (const o of outcomes) if (o.status === 'dropped') countDrop(o.reason as DropReason);
    acceptedCount.inc(messages.length);
    droppedCount.inc(outcomes.length - messages.length);
    return outcomes;
  }

  app.post('/api/v1/track', { bodyLimit: TRACK_LIMITS.singleBodyBytes }, async (req, reply) => {
    const parsed = trackEventInput.safeParse(req.body);
    if (!parsed.success) throw ApiError.validation(zodDetails(parsed.error), 'the event is invalid');
    const [outcome] = await process(req, [parsed.data], () => 'site_key');
    reply.code(202);
    if (outcome!.status === 'accepted') return { accepted: 1, event_id: outcome!.event_id };
    return { accepted: 0, dropped: 1, reason: outcome!.reason };
  });

  app.post('/api/v1/track/batch', { bodyLimit: TRACK_LIMITS.batchBodyBytes }, async (req, reply) => {
    const batch = trackBatchInput.safeParse(req.body);
    if (!batch.success) throw ApiError.validation(zodDetails(batch.error), 'the batch is invalid');
    // All or nothing: a batch with one invalid event is refused whole, so a client retries it as
    // it was and nothing is half-written.
    const details: Record<string, string[]> = {};
    const events: TrackEventInput[] = [];
    batch.data.events.forEach((raw, i) => {
      const parsed = trackEventInput.safeParse(raw);
      if (parsed.success) events.push(parsed.data);
      else Object.assign(details, prefixDetails(zodDetails(parsed.error), `events.${i}`));
    });
    if (Object.keys(details).length > 0)
      throw ApiError.validation(details, 'some events in the batch are invalid');
    const outcomes = await process(req, events, (i) => `events.${i}.site_key`);
    const accepted = outcomes.filter((o) => o.status === 'accepted').length;
    reply.code(202);
    return { accepted, dropped: outcomes.length - accepted, results: outcomes };
  });
}

function toMessages(results: EnrichResult[]): { messages: OutgoingMessage[]; outcomes: Outcome[] } {
  const messages: OutgoingMessage[] = [];
  const outcomes: Outcome[] = new Array(results.length);
  for (let index = 0; index < results.length; index++) {
    const r = results[index]!;
    if (r.kind === 'accepted') {
      messages.push({ key: eventMessageKey(r.event), value: JSON.stringify(r.event) });
      outcomes[index] = { index, status: 'accepted', event_id: r.event.event_id };
    } else {
      outcomes[index] = { index, status: 'dropped', reason: r.reason };
    }
  }
  return { messages, outcomes };
}

function prefixDetails(details: Record<string, string[]>, prefix: string): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [k === 'body' ? prefix : `${prefix}.${k}`, v]),
  );
}
