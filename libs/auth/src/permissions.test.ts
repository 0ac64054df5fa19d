import { describe, expect, it } from 'vitest';
import {
  ALL_PERMISSIONS,
  decideSiteAccess,
  effectivePermissions,
  ROLE_PERMISSIONS,
  type Permission,
} from './permissions';

const set = (...p: Permission[]) => new Set<Permission>(p);

describe('roles and token permissions', () => {
  it('gives members analytics configuration but not team, keys or account', () => {
    const member = ROLE_PERMISSIONS.member;
    for (const p of [
      'sites:write',
      'goals:write',
      'funnels:write',
      'alerts:write',
      'webhooks:write',
    ] as const) {
      expect(member.has(p)).toBe(true);
    }
    for (const p of [
      'team:read',
      'team:write',
      'api-keys:read',
      'api-keys:write',
      'account:write',
    ] as const) {
      expect(member.has(p)).toBe(false);
    }
  });

  it('gives viewers only reads', () => {
    for (const p of ROLE_PERMISSIONS.viewer) expect(p.endsWith(':read')).toBe(true);
    expect(ROLE_PERMISSIONS.viewer.has('stats:read')).toBe(true);
  });

  it('intersects a token with the current role', () => {
    expect([...effectivePermissions(ALL_PERMISSIONS, 'viewer')].sort()).toEqual(
      [...ROLE_PERMISSIONS.viewer].sort(),
    );
    expect([...effectivePermissions(set('stats:read', 'team:write'), 'member')]).toEqual(['stats:read']);
  });

  it('says insufficient_scope for the token and forbidden for the role', () => {
    expect(decideSiteAccess(set('sites:read'), 'owner', 'sites:write')).toMatchObject({
      code: 'insufficient_scope',
    });
    expect(decideSiteAccess(ALL_PERMISSIONS, 'viewer', 'sites:write')).toMatchObject({ code: 'forbidden' });
    expect(decideSiteAccess(ALL_PERMISSIONS, 'member', 'sites:write')).toEqual({ allowed: true });
    expect(decideSiteAccess(ALL_PERMISSIONS, 'member', 'sites:write', { ownerOnly: true })).toMatchObject({
      code: 'forbidden',
    });
    expect(decideSiteAccess(ALL_PERMISSIONS, 'owner', 'sites:write', { ownerOnly: true })).toEqual({
      allowed: true,
    });
  });
});
