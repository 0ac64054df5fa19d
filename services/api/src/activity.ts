import type { Queryable } from './db';

export interface Actor {
  userId: string | null;
  /** The account token used, when the change came through one. */
  tokenId: string | null;
}

export interface ActivityEntry {
  /** The account the resource belongs to: its owner sees the entry in `GET /activity`. */
  accountId: string;
  actor: Actor;
  /** `<resource_type>.<verb>`, e.g. `site.created`, `api_key.rolled`, `goal.deleted`. */
  action: string;
  resourceType: string;
  resourceId: string;
  siteId?: string | null;
  /** What changed (field names, roles, names); never secrets. */
  metadata?: Record<string, unknown>;
}

/**
 * Records one entry. Call it with the transaction client of the change itself, so the log and the
 * change commit or roll back together.
 */
export async function recordActivity(db: Queryable, entry: ActivityEntry): Promise<void> {
  await db.query(
    `INSERT INTO activity_log (account_id, actor_user_id, actor_token_id, action, resource_type, resource_id, site_id, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.accountId,
      entry.actor.userId,
      entry.actor.tokenId,
      entry.action,
      entry.resourceType,
      entry.resourceId,
      entry.siteId ?? null,
      JSON.stringify(entry.metadata ?? {}),
    ],
  );
}

export interface ActivityRow {
  id: number;
  action: string;
  resource_type: string;
  resource_id: string;
  site_id: string | null;
  actor_user_id: string | null;
  actor_email: string | null;
  actor_token_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
}

/** Newest first, `limit` entries older than the `before` cursor; optionally only some sites' entries. */
export async function listActivity(
  db: Queryable,
  opts: { accountId: string; limit: number; before?: string; siteIds: readonly string[] | null },
): Promise<ActivityRow[]> {
  const { rows } = await db.query<ActivityRow>(
    `SELECT a.id, a.action, a.resource_type, a.resource_id, a.site_id, a.actor_user_id, u.email AS actor_email,
            a.actor_token_id, a.metadata, a.created_at
       FROM activity_log a
       LEFT JOIN users u ON u.id = a.actor_user_id
      WHERE a.account_id = $1
        AND ($2::bigint IS NULL OR a.id < $2)
        AND ($3::uuid[] IS NULL OR a.site_id = ANY($3))
      ORDER BY a.id DESC
      LIMIT $4`,
    [opts.accountId, opts.before ?? null, opts.siteIds, opts.limit],
  );
  return rows;
}
