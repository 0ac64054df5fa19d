import { useState } from 'preact/hooks';
import type { DashboardConfig, Site } from './api-types';
import { anonymous } from './api';
import { CopyButton } from './copy-button';
import { ErrorMessage, Field, SelectField, useSubmit } from './forms';
import type { SettingsProps } from './settings-page';
import { useFetch } from './use-fetch';

/** The browser's IANA zones, plus the site's own (UTC is not in every browser's list). */
const timezoneOptions = (current: string) =>
  [...new Set([current, 'UTC', ...Intl.supportedValuesOf('timeZone')])]
    .sort()
    .map((tz) => ({ value: tz, label: tz.replaceAll('_', ' ') }));

export function GeneralSettings(props: SettingsProps) {
  return (
    <>
      <TrackerSnippet site={props.site} />
      <SiteForm {...props} />
      <PublicSharing {...props} />
    </>
  );
}

/** The tag to paste into the site's pages, pointing at this installation's ingest service. */
function TrackerSnippet({ site }: { site: Site }) {
  const config = useFetch(
    () => anonymous.get<{ data: DashboardConfig }>('/config').then((r) => r.data),
    'config',
  );
  const snippet = config.data
    ? `<script defer data-site="${site.site_key}" src="${config.data.ingest_url}/js/script.js"></script>`
    : '';
  return (
    <section class="card" aria-labelledby="snippet-title">
      <h2 id="snippet-title">Tracker snippet</h2>
      <p>
        Paste this into the <code>&lt;head&gt;</code> of every page of {site.domain}. It sets no cookies and
        stores nothing in the visitor's browser.
      </p>
      <ErrorMessage error={config.error} />
      {snippet && (
        <>
          <pre class="snippet">
            <code id="tracker-snippet">{snippet}</code>
          </pre>
          <CopyButton text={snippet} label="Copy snippet" />
        </>
      )}
    </section>
  );
}

function SiteForm({ client, site, base, onSiteChange }: SettingsProps) {
  const [name, setName] = useState(site.name);
  const [domain, setDomain] = useState(site.domain);
  const [timezone, setTimezone] = useState(site.timezone);
  const [saved, setSaved] = useState(false);
  const { busy, failure, submit } = useSubmit(async () => {
    setSaved(false);
    await client.send('PATCH', base, { name, domain, timezone });
    onSiteChange();
    setSaved(true);
  });
  return (
    <form class="card form-grid" onSubmit={submit} noValidate aria-labelledby="site-form-title">
      <h2 id="site-form-title">Site</h2>
      <Field label="Name" name="name" value={name} onValue={setName} failure={failure} />
      <Field label="Domain" name="domain" value={domain} onValue={setDomain} failure={failure} />
      <SelectField
        label="Timezone"
        name="timezone"
        value={timezone}
        onValue={setTimezone}
        options={timezoneOptions(site.timezone)}
      />
      <ErrorMessage error={failure} />
      <div class="form-actions">
        <button class="button" type="submit" disabled={busy}>
          Save
        </button>
        <span role="status">{saved ? 'Saved.' : ''}</span>
      </div>
    </form>
  );
}

/** Public stats: anyone with the link sees the dashboard (numbers only, no settings). */
function PublicSharing({ client, site, base, onSiteChange }: SettingsProps) {
  const link = `${location.origin}/share/${encodeURIComponent(site.site_key)}`;
  const { busy, failure, submit } = useSubmit(async () => {
    await client.send('PATCH', base, { public_stats: !site.public_stats });
    onSiteChange();
  });
  return (
    <section class="card" aria-labelledby="public-title">
      <h2 id="public-title">Public dashboard</h2>
      <p>
        {site.public_stats
          ? 'Anyone with the link can see this site’s statistics: numbers only, never its settings, keys or team.'
          : 'Only you and your team can see this site’s statistics.'}
      </p>
      {site.public_stats && (
        <p class="share-link">
          <a href={link}>{link}</a> <CopyButton text={link} label="Copy link" />
        </p>
      )}
      <ErrorMessage error={failure} />
      <button type="button" class="button secondary" disabled={busy} onClick={() => submit()}>
        {site.public_stats ? 'Make private' : 'Make public'}
      </button>
    </section>
  );
}
