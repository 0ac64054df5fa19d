import type { Client } from './api';
import type { SiteSummary } from './api-types';
import type { DashboardState } from './dashboard-state';

/** What every part of a dashboard works from: the site, how to call the API, and the URL state. */
export interface DashboardView {
  client: Client;
  site: SiteSummary;
  state: DashboardState;
  query: URLSearchParams;
  /** Set (string) or remove (null) query parameters: the page follows the URL. */
  update(changes: Record<string, string | null>): void;
  /** A public dashboard: read-only, no settings and no configuration (funnels) to read. */
  isPublic: boolean;
}
