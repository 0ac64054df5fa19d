import type { Client } from './api';
import type { Site } from './api-types';
import { ErrorMessage } from './forms';
import { Link } from './router';
import { AlertsSettings } from './settings-alerts';
import { ApiKeysSettings } from './settings-api-keys';
import { FunnelsSettings } from './settings-funnels';
import { GeneralSettings } from './settings-general';
import { GoalsSettings } from './settings-goals';
import { TeamSettings } from './settings-team';
import { WebhooksSettings } from './settings-webhooks';
import { useFetch } from './use-fetch';

export interface SettingsProps {
  client: Client;
  site: Site;
  /** The API path of the site: `/sites/{site_key}`. */
  base: string;
  /** After a change of the site: read it again. */
  onSiteChange(): void;
}

const SECTIONS = [
  { id: 'general', label: 'General', Component: GeneralSettings },
  { id: 'goals', label: 'Goals', Component: GoalsSettings },
  { id: 'funnels', label: 'Funnels', Component: FunnelsSettings },
  { id: 'alerts', label: 'Alerts', Component: AlertsSettings },
  { id: 'webhooks', label: 'Webhooks', Component: WebhooksSettings },
  { id: 'api-keys', label: 'API keys', Component: ApiKeysSettings },
  { id: 'team', label: 'Team', Component: TeamSettings },
] as const;

/** `/sites/{site_key}/settings/{section}`: one page per section, each a link. */
export function SettingsPage({
  client,
  siteKey,
  section,
}: {
  client: Client;
  siteKey: string;
  section?: string;
}) {
  const base = `/sites/${encodeURIComponent(siteKey)}`;
  const site = useFetch(() => client.get<{ data: Site }>(base).then((r) => r.data), siteKey);
  const current = SECTIONS.find((s) => s.id === section) ?? SECTIONS[0];
  if (site.error) return <ErrorMessage error={site.error} />;
  if (!site.data) return <p class="muted">Loading…</p>;
  const { Component } = current;
  return (
    <>
      <div class="page-head">
        <div>
          <h1>{site.data.name}: settings</h1>
          <p class="muted domain">{site.data.domain}</p>
        </div>
        <Link class="button secondary" href={base}>
          Back to the dashboard
        </Link>
      </div>
      <nav class="settings-nav" aria-label="Settings sections">
        {SECTIONS.map((s) => (
          <Link
            key={s.id}
            href={`${base}/settings/${s.id}`}
            aria-current={s === current ? 'page' : undefined}
          >
            {s.label}
          </Link>
        ))}
      </nav>
      <Component client={client} site={site.data} base={base} onSiteChange={() => site.reload()} />
    </>
  );
}
