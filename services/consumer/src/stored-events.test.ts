import type { EnrichedEventV1 } from '@tidemark/events';
import { describe, expect, it } from 'vitest';
import { StoredEvents } from './stored-events';

const A = '5f1c2f9e-1d2b-4c3a-8e7f-6a5b4c3d2e1f';
const B = '0b5a7f5e-93c5-4a4b-9d3c-0a3a9d2e4f10';
const event = (site_id: string, name: string) => ({ site_id, name }) as EnrichedEventV1;

describe('StoredEvents', () => {
  const events = [event(A, 'pageview'), event(B, 'signup'), event(A, 'signup'), event(B, 'pageview')];
  const stored = new StoredEvents();
  for (const e of events) stored.add(Buffer.from(JSON.stringify(e)), e);

  it('counts every event and names each site once', () => {
    expect(stored.length).toBe(4);
    expect(stored.siteIds()).toEqual([A, B]);
  });

  it('gives back the events of the sites asked for, parsed from their messages, in order', () => {
    expect(stored.of(new Set([A]))).toEqual([events[0], events[2]]);
    expect(stored.of(new Set([B, A]))).toEqual(events);
    expect(stored.of(new Set())).toEqual([]);
  });

  it('reads the bytes it was given, not the object', () => {
    const one = new StoredEvents();
    one.add(Buffer.from(JSON.stringify(event(A, 'from the message'))), event(A, 'decoded'));
    expect(one.of(new Set([A]))).toEqual([event(A, 'from the message')]);
  });
});
