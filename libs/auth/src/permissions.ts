/** Every permission a token can carry (API.md, "Conventions"). */
export const PERMISSIONS = [
  'stats:read',
  'sites:read',
  'sites:write',
  'api-keys:read',
  'api-keys:write',
  'goals:read',
  'goals:write',
  'funnels:read',
  'funnels:write',
  'alerts:read',
  'alerts:write',
  'webhooks:read',
  'webhooks:write',
  'team:read',
  'team:write',
  'account:read',
  'account:write',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const SITE_ROLES = ['owner', 'member', 'viewer'] as const;
export type SiteRole = (typeof SITE_ROLES)[number];

/** The roles an owner can hand out; ownership itself follows the account that holds the site. */
export const INVITABLE_ROLES = ['member', 'viewer'] as const;
export type InvitableRole = (typeof INVITABLE_ROLES)[number];

export const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set(PERMISSIONS);

const READ_ANALYTICS: Permission[] = [
  'stats:read',
  'sites:read',
  'goals:read',
  'funnels:read',
  'alerts:read',
  'webhooks:read',
];

/**
 * What each role allows on a site. A member reads and writes the analytics configuration (site
 * settings, goals, funnels, alerts, webhooks) but has no team, keys or deletion; a viewer only
 * reads. Deleting a site needs `sites:write` *and* the owner role (see `decideSiteAccess`).
 */
export const ROLE_PERMISSIONS: Record<SiteRole, ReadonlySet<Permission>> = {
  owner: ALL_PERMISSIONS,
  member: new Set<Permission>([
    ...READ_ANALYTICS,
    'sites:write',
    'goals:write',
    'funnels:write',
    'alerts:write',
    'webhooks:write',
  ]),
  viewer: new Set<Permission>(READ_ANALYTICS),
};

export const isPermission = (value: string): value is Permission => ALL_PERMISSIONS.has(value as Permission);

/**
 * A token never exceeds its creator: on a site, a token can do what both its own permissions and
 * the creator's *current* role allow. Computed per request, so a demoted or removed user's tokens
 * lose their rights at once.
 */
export function effectivePermissions(
  tokenPermissions: ReadonlySet<Permission>,
  role: SiteRole,
): ReadonlySet<Permission> {
  const allowed = ROLE_PERMISSIONS[role];
  return new Set([...tokenPermissions].filter((p) => allowed.has(p)));
}

export type AccessDecision =
  { allowed: true } | { allowed: false; code: 'insufficient_scope' | 'forbidden'; message: string };

/**
 * `insufficient_scope` when the token lacks the permission (whatever the role), `forbidden` when the
 * token has it but the user's role on the site does not.
 */
export function decideSiteAccess(
  tokenPermissions: ReadonlySet<Permission>,
  role: SiteRole,
  needed: Permission,
  opts: { ownerOnly?: boolean } = {},
): AccessDecision {
  if (!tokenPermissions.has(needed)) {
    return {
      allowed: false,
      code: 'insufficient_scope',
      message: `this token lacks the ${needed} permission`,
    };
  }
  if (!ROLE_PERMISSIONS[role].has(needed)) {
    return {
      allowed: false,
      code: 'forbidden',
      message: `your role on this site (${role}) does not allow ${needed}`,
    };
  }
  if (opts.ownerOnly && role !== 'owner') {
    return {
      allowed: false,
      code: 'forbidden',
      message: `only the site owner can do this; your role is ${role}`,
    };
  }
  return { allowed: true };
}
