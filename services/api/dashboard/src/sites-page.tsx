import { useState } from 'preact/hooks';
import type { Client } from './api';
import type { Site, Timeseries } from './api-types';
import { ErrorMessage, Field, useSubmit } from './forms';
import { formatNumber } from './format';
import { Link, navigate } from './router';
import { Sparkline } from './sparkline';
import { useFetch } from './use-fetch';

export function SitesPage({ client }: { client: Client }) {
  const sites = useFetch(() => client.get<{ data: Site[] }>('/sites').then((r) => r.data), 'sites');
  const [adding, setAdding] = useState(false);
  return (
    <>
      <div class="page-head">
        <h1>Your sites</h1>
        <button type="button" class="button" aria-expanded={adding} onClick={() => setAdding(!adding)}>
          Add a site
        </button>
      </div>
      {adding && <AddSiteForm client={client} />}
      <ErrorMessage error={sites.error} />
      {sites.data?.length === 0 && !adding && (
        <p class="empty">No sites yet. Add one to get its tracker snippet.</p>
      )}
      <ul class="site-list">
        {sites.data?.map((site) => (
          <SiteCard key={site.id} client={client} site={site} />
        ))}
      </ul>
    </>
  );
}

function SiteCard({ client, site }: { client: Client; site: Site }) {
  const week = useFetch(
    () =>
      client.get<Timeseries>('/stats/timeseries', {
        site_id: site.site_key,
        period: '7d',
        interval: 'day',
        metrics: 'visitors',
      }),
    site.site_key,
  );
  const values = week.data?.results.map((r) => r.visitors ?? 0) ?? [];
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <li class="site-card">
      <div class="site-card-head">
        <h2>
          <Link href={`/sites/${encodeURIComponent(site.site_key)}`}>{site.name}</Link>
        </h2>
        <span class="muted">{site.domain}</span>
      </div>
      <div class="site-card-stats">
        <Sparkline
          values={values}
          label={`Visitors per day, last 7 days: ${values.join(', ') || 'loading'}`}
        />
        <dl>
          <div>
            <dt>Visitors, 7 days</dt>
            <dd>{week.data ? formatNumber(total) : '–'}</dd>
          </div>
          <div>
            <dt>Events this month</dt>
            <dd>{site.events_this_month === null ? '–' : formatNumber(site.events_this_month)}</dd>
          </div>
        </dl>
      </div>
    </li>
  );
}

function AddSiteForm({ client }: { client: Client }) {
  const [domain, setDomain] = useState('');
  const [name, setName] = useState('');
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const { busy, failure, submit } = useSubmit(async () => {
    const res = await client.send<{ data: Site }>('POST', '/sites', {
      domain,
      name: name.trim() || domain,
      timezone,
    });
    // Straight to the tracker snippet: the next thing a new site needs.
    navigate(`/sites/${encodeURIComponent(res.data.site_key)}/settings`);
  });
  return (
    <form class="card form-grid" onSubmit={submit} noValidate aria-label="Add a site">
      <Field
        label="Domain"
        name="domain"
        placeholder="example.com"
        hint="The host name only: no https://, path or port."
        required
        value={domain}
        onValue={setDomain}
        failure={failure}
      />
      <Field
        label="Name"
        name="name"
        placeholder="My website"
        value={name}
        onValue={setName}
        failure={failure}
      />
      <p class="hint">Statistics use your timezone, {timezone}; change it in the site's settings.</p>
      <ErrorMessage error={failure} />
      <div>
        <button class="button" type="submit" disabled={busy}>
          {busy ? 'Adding…' : 'Add site'}
        </button>
      </div>
    </form>
  );
}
