import { BreakdownPanel } from './breakdown-panel';
import type { DashboardView } from './dashboard-view';
import { FilterChips } from './filter-chips';
import { FunnelsPanel } from './funnels-panel';
import { CAMPAIGN_TABS, DEVICE_TABS, GOAL_TABS, LOCATION_TABS, PAGE_TABS, SOURCE_TABS } from './panels';
import { PeriodPicker } from './period-picker';
import { RealtimeBadge } from './realtime-badge';
import { Link } from './router';
import { TopStats } from './top-stats';
import { VisitorsChart } from './visitors-chart';

/** DB-IP's licence asks for this wherever its locations show. */
const DbIpAttribution = () => (
  <p class="attribution">
    <a href="https://db-ip.com">IP Geolocation by DB-IP</a>
  </p>
);

/** A site's dashboard, private or public: everything below the header reads the URL state. */
export function SiteDashboard({ view }: { view: DashboardView }) {
  const { site } = view;
  return (
    <>
      <div class="dash-head">
        <div>
          <h1>{site.name}</h1>
          <p class="muted domain">{site.domain}</p>
        </div>
        <RealtimeBadge view={view} />
        {!view.isPublic && (
          <Link class="button secondary" href={`/sites/${encodeURIComponent(site.site_key)}/settings`}>
            Settings
          </Link>
        )}
      </div>
      <div class="controls">
        <PeriodPicker view={view} />
      </div>
      <FilterChips view={view} />
      <TopStats view={view} />
      <VisitorsChart view={view} />
      <div class="panels">
        <BreakdownPanel view={view} title="Pages" tabs={PAGE_TABS} tabParam="view_pages" />
        <BreakdownPanel view={view} title="Sources" tabs={SOURCE_TABS} tabParam="view_sources" />
        <BreakdownPanel view={view} title="Campaigns" tabs={CAMPAIGN_TABS} tabParam="view_campaigns" />
        <BreakdownPanel
          view={view}
          title="Locations"
          tabs={LOCATION_TABS}
          tabParam="view_locations"
          footer={<DbIpAttribution />}
        />
        <BreakdownPanel view={view} title="Devices" tabs={DEVICE_TABS} tabParam="view_devices" />
        <BreakdownPanel view={view} title="Goals" tabs={GOAL_TABS} tabParam="view_goals" />
        {!view.isPublic && <FunnelsPanel view={view} />}
      </div>
    </>
  );
}
