import type { SessionTokens } from '@tidemark/auth';
import { errorBody } from '@tidemark/api-schemas';
import type { Pool } from '@tidemark/db';
import type { CacheInvalidation } from '../cache/invalidation';
import type { ApiConfig } from '../config';
import type { SiteAnalytics } from '../sites/analytics';
import type { SiteListCache } from '../sites/site-list-cache';
import type { SiteRulesPublisher } from '../sites/site-rules';

/** What the route plugins need, passed as plugin options (nothing is imported as a singleton). */
export interface RouteContext {
  pool: Pool;
  config: ApiConfig;
  sessions: SessionTokens;
  analytics: SiteAnalytics;
  siteRules: SiteRulesPublisher;
  /**
   * `invalidate()` after any change to tokens, keys, users, sites or team membership: the resolved
   * tokens and site lists cached by every replica depend on them.
   */
  caches: CacheInvalidation;
  siteLists: SiteListCache;
  /** Verified against for unknown emails, so a failed login takes the same time either way. */
  dummyPasswordHash: Promise<string>;
}

/** Error answers a route can give, for the OpenAPI document (the body is always `errorBody`). */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, errorBody])) as Record<number, typeof errorBody>;

/** 401 (token), 403 (scope or role), 413/415 (body) and 429 (limits) apply to every authenticated route. */
export const AUTHENTICATED_ERRORS = [400, 401, 403, 429];
export const BODY_ERRORS = [413, 415, 422];

export const bearerAuth = [{ bearerAuth: [] }];
