import type { EnrichedEventV1 } from '@tidemark/events';

/**
 * A batch's valid events, as the notifier needs them after the insert: which sites they belong to,
 * and the events themselves of the few sites with goals or webhook subscriptions.
 *
 * Holding every parsed event until its batch commits (a second or more under load) made tens of
 * thousands of objects per batch outlive the young generation: the collector copied them, then
 * promoted and marked them, which cost ~10% of the consumer's CPU. The messages are held until the
 * commit anyway, so each event keeps only its message bytes and its site, and the events the
 * notifier asks for are parsed again from bytes that were already checked.
 */
export class StoredEvents {
  private readonly values: Buffer[] = [];
  private readonly siteOf: string[] = [];
  /** One string per site: a batch holds tens of thousands of events of a few sites. */
  private readonly sites = new Map<string, string>();

  /** `value` is the message `event` was decoded from. */
  add(value: Buffer, event: Pick<EnrichedEventV1, 'site_id'>): void {
    let site = this.sites.get(event.site_id);
    if (site === undefined) {
      site = event.site_id;
      this.sites.set(site, site);
    }
    this.values.push(value);
    this.siteOf.push(site);
  }

  get length(): number {
    return this.values.length;
  }

  siteIds(): string[] {
    return [...this.sites.keys()];
  }

  /** The events of these sites, in the batch's order. */
  of(sites: ReadonlySet<string>): EnrichedEventV1[] {
    const events: EnrichedEventV1[] = [];
    for (let i = 0; i < this.values.length; i++) {
      if (sites.has(this.siteOf[i]!))
        events.push(JSON.parse(this.values[i]!.toString('utf8')) as EnrichedEventV1);
    }
    return events;
  }
}
