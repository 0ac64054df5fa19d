/**
 * The answers the dashboard reads, as /work/shared/spec/API.md and the OpenAPI document (`/docs`)
 * give them. Written out here rather than inferred from the zod schemas so the browser bundle and
 * its type check stay free of the server's libraries.
 */

export interface Site {
  id: string;
  domain: string;
  name: string;
  site_key: string;
  timezone: string;
  public_stats: boolean;
  currency: string;
  events_this_month: number | null;
  settings: {
    excluded_ips: string[];
    excluded_paths: string[];
    excluded_countries: string[];
    allowed_hostnames: string[];
  };
  created_at: string;
}

/** What a dashboard needs to know about its site; the public page gets only this. */
export type SiteSummary = Pick<Site, 'site_key' | 'domain' | 'name' | 'timezone'>;

export interface Session {
  token: string;
  expires_at: string;
}

export interface DashboardConfig {
  ingest_url: string;
  signup_open: boolean;
}

export interface ShareToken extends Session {
  site: SiteSummary;
}

export type Metric =
  | 'visitors'
  | 'visits'
  | 'pageviews'
  | 'views_per_visit'
  | 'bounce_rate'
  | 'visit_duration'
  | 'events'
  | 'entries'
  | 'exits'
  | 'conversion_rate';

export type MetricValues = Partial<Record<Metric, number | null>>;

export interface StatsPeriod {
  from: string;
  to: string;
  preset: string;
}

export interface Aggregate {
  period: StatsPeriod;
  metrics: MetricValues;
  comparison?: { period: StatsPeriod; metrics: MetricValues; change: MetricValues };
}

export interface Timeseries {
  period: StatsPeriod;
  interval: string;
  results: Array<{ date: string } & MetricValues>;
}

export interface Breakdown {
  property: string;
  results: Array<{ value: string | null } & MetricValues>;
  pagination: { page_number: number; limit: number; total_rows: number; total_pages: number };
}

export interface Realtime {
  current_visitors: number;
  window_minutes: number;
}

export interface FunnelStats {
  steps: Array<{ name: string; visitors: number; conversion_rate: number; drop_off: number }>;
  conversion_rate: number;
}

export interface Goal {
  id: string;
  name: string;
  event_name: string | null;
  page_path: string | null;
  events_last_30d: number | null;
}

export type FunnelStep =
  { name: string; type: 'pageview'; url: string } | { name: string; type: 'goal'; goal_name: string };

export interface Funnel {
  id: string;
  name: string;
  steps: FunnelStep[];
  window_minutes: number;
}

export type AlertTrigger =
  | { goal_name: string }
  | { metric: 'visitors' | 'pageviews' | 'events'; window_minutes: number; op: 'gt' | 'lt'; value: number };

export interface Alert {
  id: string;
  name: string;
  trigger: AlertTrigger;
  template: { subject: string; message: string };
  is_enabled: boolean;
  cooldown_minutes: number;
  last_fired_at: string | null;
}

export const WEBHOOK_EVENTS = ['pageview', 'event', 'goal.completed', 'alert.triggered'] as const;

export interface Webhook {
  id: string;
  url: string;
  events: Array<(typeof WEBHOOK_EVENTS)[number]>;
  description: string | null;
  is_enabled: boolean;
  disabled_reason: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  preview: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

export interface TeamMember {
  user_id: string | null;
  email: string;
  name: string | null;
  role: 'owner' | 'member' | 'viewer';
  status: 'active' | 'pending';
}
