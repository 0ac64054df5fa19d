import type { Permission } from '@tidemark/auth';
import { ApiError } from '@tidemark/http';

export interface PrincipalUser {
  id: string;
  accountId: string;
  email: string;
  name: string | null;
}

/** Who is calling, resolved once per request from the bearer token. */
export type Principal =
  | {
      kind: 'session';
      user: PrincipalUser;
      tokenId: null;
      permissions: ReadonlySet<Permission>;
      siteIds: null;
    }
  | {
      kind: 'account_token';
      user: PrincipalUser;
      tokenId: string;
      permissions: ReadonlySet<Permission>;
      /** null: every site the user can access. */
      siteIds: readonly string[] | null;
    }
  | {
      kind: 'site_api_key';
      keyId: string;
      siteId: string;
      permissions: ReadonlySet<Permission>;
    };

export type UserPrincipal = Extract<Principal, { kind: 'session' | 'account_token' }>;

const REALM = 'Bearer realm="tidemark"';

export const missingToken = () =>
  new ApiError('missing_token', 'send a bearer token: Authorization: Bearer <token>', undefined, {
    'www-authenticate': REALM,
  });

export const invalidToken = (message = 'the token is malformed, unknown, expired or revoked') =>
  new ApiError('invalid_token', message, undefined, {
    'www-authenticate': `${REALM}, error="invalid_token"`,
  });

export const insufficientScope = (message: string, permission?: Permission) =>
  new ApiError('insufficient_scope', message, undefined, {
    'www-authenticate': `${REALM}, error="insufficient_scope"${permission ? `, scope="${permission}"` : ''}`,
  });

/**
 * For routes about the caller's own account (not a site): the token must carry `permission`, and a
 * site API key never can (it only has stats:read on its site).
 */
export function requirePermission(principal: Principal | null, permission: Permission): UserPrincipal {
  if (!principal) throw missingToken();
  if (principal.kind === 'site_api_key' || !principal.permissions.has(permission)) {
    const who =
      principal.kind === 'site_api_key' ? 'a site API key only has stats:read' : 'this token lacks it';
    throw insufficientScope(`this needs the ${permission} permission; ${who}`, permission);
  }
  return principal;
}

/** The activity log's "who": the user, and the account token when one was used. */
export const actorOf = (principal: UserPrincipal) => ({
  userId: principal.user.id,
  tokenId: principal.tokenId,
});
