export {
  PERMISSIONS,
  ALL_PERMISSIONS,
  SITE_ROLES,
  INVITABLE_ROLES,
  ROLE_PERMISSIONS,
  isPermission,
  effectivePermissions,
  decideSiteAccess,
  type Permission,
  type SiteRole,
  type InvitableRole,
  type AccessDecision,
} from './permissions';
export {
  SECRET_LENGTH,
  randomBase62,
  hashSecret,
  secretMatches,
  keyPrefix,
  tokenPreview,
  issueToken,
  parseToken,
  generateSiteKey,
  isSiteKey,
  type SecretTokenKind,
  type IssuedToken,
  type ParsedToken,
} from './tokens';
export {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  verifyPassword,
  createDummyHash,
  type ScryptParams,
} from './password';
export {
  MIN_JWT_SECRET_LENGTH,
  createSessionTokens,
  looksLikeJwt,
  type SessionClaims,
  type SessionTokens,
} from './session';
export { createSignedTokens, type SignedTokenClaims } from './session';
