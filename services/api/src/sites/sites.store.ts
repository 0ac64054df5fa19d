import { isSiteKey, type SiteRole } from '@tidemark/auth';
import type { Queryable } from '../db';

// The lookups every authenticated request makes are named statements, so each pooled connection
// parses and plans them once instead of per request (the same for the token lookups in
// auth/auth.plugin.ts). A PgBouncer in transaction mode needs max_prepared_statements (1.21+).

export interface SiteRow {
  id: string;
  account_id: string;
  site_key: string;
  domain: string;
  name: string;
  timezone: string;
  public_stats: boolean;
  currency: string;
  excluded_ips: string[];
  excluded_paths: string[];
  excluded_countries: string[];
  allowed_hostnames: string[];
  /** ISO 8601 in UTC, as answers carry it. */
  created_at: string;
}

export interface SiteSettings {
  excluded_ips: string[];
  excluded_paths: string[];
  excluded_countries: string[];
  allowed_hostnames: string[];
}

export const SETTINGS_KEYS = [
  'excluded_ips',
  'excluded_paths',
  'excluded_countries',
  'allowed_hostnames',
] as const;

// created_at is rendered here, once per read, rather than by Date#toISOString in every answer of a
// cached site list (~0.5 µs a site, the largest cost of `GET /sites` in the api's own code).
const COLUMNS = `s.id, s.account_id, s.site_key, s.domain, s.name, s.timezone, s.public_stats, s.currency,
  s.excluded_ips, s.excluded_paths, s.excluded_countries, s.allowed_hostnames,
  to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `{site}` is an id or a site_key; anything else cannot name a site (and needs no query). */
export function parseSiteRef(ref: string): { id: string } | { siteKey: string } | null {
  if (UUID_RE.test(ref)) return { id: ref.toLowerCase() };
  if (isSiteKey(ref)) return { siteKey: ref };
  return null;
}

export const siteMatchesRef = (site: Pick<SiteRow, 'id' | 'site_key'>, ref: string) => {
  const parsed = parseSiteRef(ref);
  if (!parsed) return false;
  return 'id' in parsed ? parsed.id === site.id : parsed.siteKey === site.site_key;
};

/**
 * A site as one user sees it: owner when the site belongs to the user's account, else the role of
 * their membership. Sites the user cannot see do not exist for them (null).
 */
export async function findSiteForUser(
  db: Queryable,
  user: { id: string; accountId: string },
  ref: string,
): Promise<{ site: SiteRow; role: SiteRole } | null> {
  const parsed = parseSiteRef(ref);
  if (!parsed) return null;
  const byId = 'id' in parsed;
  const { rows } = await db.query<SiteRow & { role: SiteRole }>({
    name: byId ? 'site-for-user-by-id' : 'site-for-user-by-key',
    text: `SELECT ${COLUMNS}, CASE WHEN s.account_id = $2 THEN 'owner' ELSE m.role END AS role
             FROM sites s
             LEFT JOIN site_members m ON m.site_id = s.id AND m.user_id = $1
            WHERE ${byId ? 's.id = $3' : 's.site_key = $3'}
              AND (s.account_id = $2 OR m.user_id IS NOT NULL)`,
    values: [user.id, user.accountId, byId ? parsed.id : parsed.siteKey],
  });
  const row = rows[0];
  if (!row) return null;
  const { role, ...site } = row;
  return { site, role };
}

export async function findSiteById(db: Queryable, id: string): Promise<SiteRow | null> {
  const { rows } = await db.query<SiteRow>({
    name: 'site-by-id',
    text: `SELECT ${COLUMNS} FROM sites s WHERE s.id = $1`,
    values: [id],
  });
  return rows[0] ?? null;
}

/** A site by its site_key, only while its stats are public (anyone may read those). */
export async function findPublicSite(db: Queryable, siteKey: string): Promise<SiteRow | null> {
  if (!isSiteKey(siteKey)) return null;
  const { rows } = await db.query<SiteRow>(
    `SELECT ${COLUMNS} FROM sites s WHERE s.site_key = $1 AND s.public_stats`,
    [siteKey],
  );
  return rows[0] ?? null;
}

/** Every site the user can see (own account first, then shared ones), within a token's restriction. */
export async function listSitesForUser(
  db: Queryable,
  user: { id: string; accountId: string },
  siteIds: readonly string[] | null,
): Promise<SiteRow[]> {
  const { rows } = await db.query<SiteRow>({
    name: 'sites-for-user',
    text: `SELECT ${COLUMNS}
       FROM sites s
       LEFT JOIN site_members m ON m.site_id = s.id AND m.user_id = $1
      WHERE (s.account_id = $2 OR m.user_id IS NOT NULL)
        AND ($3::uuid[] IS NULL OR s.id = ANY($3))
      ORDER BY (s.account_id = $2) DESC, s.created_at, s.id`,
    values: [user.id, user.accountId, siteIds],
  });
  return rows;
}

export interface NewSite {
  accountId: string;
  siteKey: string;
  domain: string;
  name: string;
  timezone: string;
  publicStats: boolean;
  currency: string;
  settings: SiteSettings;
  createdBy: string;
}

export async function insertSite(db: Queryable, s: NewSite): Promise<SiteRow> {
  const { rows } = await db.query<SiteRow>(
    `INSERT INTO sites AS s (account_id, site_key, domain, name, timezone, public_stats, currency,
                             excluded_ips, excluded_paths, excluded_countries, allowed_hostnames, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     RETURNING ${COLUMNS}`,
    [
      s.accountId,
      s.siteKey,
      s.domain,
      s.name,
      s.timezone,
      s.publicStats,
      s.currency,
      s.settings.excluded_ips,
      s.settings.excluded_paths,
      s.settings.excluded_countries,
      s.settings.allowed_hostnames,
      s.createdBy,
    ],
  );
  return rows[0]!;
}

export type SiteChanges = Partial<
  Pick<SiteRow, 'domain' | 'name' | 'timezone' | 'public_stats' | 'currency'> & SiteSettings
>;

/** Column names come from a fixed list, values are bound: nothing from the caller reaches the SQL text. */
const UPDATABLE = new Set<string>([
  'domain',
  'name',
  'timezone',
  'public_stats',
  'currency',
  ...SETTINGS_KEYS,
]);

export async function updateSite(db: Queryable, id: string, changes: SiteChanges): Promise<SiteRow> {
  const entries = Object.entries(changes).filter(([k, v]) => UPDATABLE.has(k) && v !== undefined);
  const sets = entries.map(([k], i) => `${k} = $${i + 2}`);
  const { rows } = await db.query<SiteRow>(
    `UPDATE sites AS s SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE s.id = $1 RETURNING ${COLUMNS}`,
    [id, ...entries.map(([, v]) => v)],
  );
  return rows[0]!;
}

export async function deleteSite(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM sites WHERE id = $1', [id]);
}

export const settingsOf = (site: SiteRow): SiteSettings => ({
  excluded_ips: site.excluded_ips,
  excluded_paths: site.excluded_paths,
  excluded_countries: site.excluded_countries,
  allowed_hostnames: site.allowed_hostnames,
});

export const toSiteResponse = (site: SiteRow, eventsThisMonth: number | null) => ({
  id: site.id,
  domain: site.domain,
  name: site.name,
  site_key: site.site_key,
  timezone: site.timezone,
  public_stats: site.public_stats,
  currency: site.currency,
  events_this_month: eventsThisMonth,
  settings: settingsOf(site),
  created_at: site.created_at,
});
