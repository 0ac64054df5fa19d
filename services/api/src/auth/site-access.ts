import { decideSiteAccess, effectivePermissions, type Permission, type SiteRole } from '@tidemark/auth';
import { ApiError } from '@tidemark/http';
import type { Queryable } from '../db';
import { freshSiteLookups, type SiteLookups } from '../sites/site-lookup-cache';
import { siteMatchesRef, type SiteRow } from '../sites/sites.store';
import { insufficientScope, missingToken, type Principal, type UserPrincipal } from './principal';

export interface SiteAccess {
  site: SiteRow;
  /** The user's role on the site; null for a site API key (bound to the site, not to a user). */
  role: SiteRole | null;
  principal: Principal;
  /** What this caller may do on this site: token permissions ∩ the user's current role. */
  permissions: ReadonlySet<Permission>;
}

export interface SiteAccessOptions {
  /** Also require the owner role (deleting a site: members have sites:write but no deletion). */
  ownerOnly?: boolean;
}

/** A route that needs only a `*:read` permission changes nothing, so a cached site will do for it. */
const readsOnly = (permission: Permission, opts: SiteAccessOptions) =>
  permission.endsWith(':read') && !opts.ownerOnly;

const notFound = () => new ApiError('not_found', 'no such site');

/**
 * Resolves `ref` (site id or site_key) for this caller and checks `permission` on it:
 * - another account's site, or one the user was never invited to → 404, never 403;
 * - a site API key naming another site → 403 forbidden (without looking the other site up);
 * - a token without the permission, or restricted to other sites → 403 insufficient_scope;
 * - a token with the permission but a user whose role lacks it → 403 forbidden.
 *
 * Routes that only read look the site up through `cached`; the others always read PostgreSQL.
 */
export async function resolveSiteAccess(
  db: Queryable,
  principal: Principal | null,
  ref: string | undefined,
  permission: Permission,
  opts: SiteAccessOptions = {},
  cached: SiteLookups = freshSiteLookups,
): Promise<SiteAccess> {
  if (!principal) throw missingToken();
  const sites = readsOnly(permission, opts) ? cached : freshSiteLookups;

  if (principal.kind === 'site_api_key') {
    if (!principal.permissions.has(permission) || opts.ownerOnly) {
      throw insufficientScope(`a site API key only has stats:read; this needs ${permission}`, permission);
    }
    const site = await sites.byId(db, principal.siteId);
    if (!site) throw notFound();
    if (ref !== undefined && !siteMatchesRef(site, ref)) {
      throw new ApiError('forbidden', 'this API key belongs to another site');
    }
    return { site, role: null, principal, permissions: principal.permissions };
  }

  if (ref === undefined) throw new ApiError('invalid_request', 'site_id is required');
  const found = await sites.forUser(db, principal.user, ref);
  if (!found) throw notFound();
  if (principal.siteIds && !principal.siteIds.includes(found.site.id)) {
    throw insufficientScope('this token is restricted to other sites', permission);
  }
  const decision = decideSiteAccess(principal.permissions, found.role, permission, opts);
  if (!decision.allowed) {
    throw decision.code === 'insufficient_scope'
      ? insufficientScope(decision.message, permission)
      : new ApiError('forbidden', decision.message);
  }
  return {
    site: found.site,
    role: found.role,
    principal,
    permissions: effectivePermissions(principal.permissions, found.role),
  };
}

/** The user behind a site access that needed a permission only users can hold (anything but stats:read). */
export function userPrincipalOf(access: SiteAccess): UserPrincipal {
  if (access.principal.kind === 'site_api_key') throw new Error('a site API key reached a user-only route');
  return access.principal;
}
