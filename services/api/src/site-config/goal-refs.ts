import { ApiError } from '@tidemark/http';
import type { Queryable } from '../db';

/**
 * Funnel steps and goal alerts name goals of their site. Checks that every `(field, name)` names an
 * existing goal (422 naming each field that does not) and locks those goals FOR SHARE, so a
 * concurrent delete of one waits for the caller's commit and then sees the new reference.
 */
export async function requireGoals(
  tx: Queryable,
  siteId: string,
  refs: ReadonlyArray<{ field: string; name: string }>,
): Promise<void> {
  if (refs.length === 0) return;
  const { rows } = await tx.query<{ name: string }>(
    'SELECT name FROM goals WHERE site_id = $1 AND name = ANY($2) FOR SHARE',
    [siteId, [...new Set(refs.map((r) => r.name))]],
  );
  const existing = new Set(rows.map((r) => r.name));
  const details: Record<string, string[]> = {};
  for (const { field, name } of refs) {
    if (!existing.has(name)) details[field] = [`there is no goal named ${JSON.stringify(name)} on this site`];
  }
  if (Object.keys(details).length > 0) throw ApiError.validation(details);
}
