import { PERMISSIONS, ROLE_PERMISSIONS, type Permission } from '@tidemark/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createApiKey,
  createSite,
  invite,
  signup,
  startApi,
  type TestApi,
  type TestUser,
} from './helpers';

/**
 * Every admin route against every kind of caller. Expected answers follow from three rules: no
 * token is 401; a site the caller cannot see is 404; otherwise the token must hold the permission
 * (403 insufficient_scope) and the user's role must allow it (403 forbidden).
 */

type Caller =
  | 'none'
  | 'owner session'
  | 'owner full token'
  | 'token without the permission'
  | 'token restricted to another site'
  | 'site API key'
  | 'viewer'
  | 'member'
  | 'other account';

const CALLERS: Caller[] = [
  'none',
  'owner session',
  'owner full token',
  'token without the permission',
  'token restricted to another site',
  'site API key',
  'viewer',
  'member',
  'other account',
];

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  name: string;
  permission: Permission;
  /** Site routes answer 404 to those who cannot see the site; account routes act on the caller's own account. */
  site: boolean;
  ownerOnly?: boolean;
  success: number;
  /** Builds a fresh target for each call (destructive routes need their own site, key, token...). */
  prepare: () => Promise<{ url: string; body?: unknown }>;
  /** Account routes that fail for a site-restricted token (they would reach beyond its sites). */
  refusesRestricted?: boolean;
  /** Resources owned by the owner: other users' own copy of the route finds nothing. */
  ownerResource?: boolean;
}

let api: TestApi;
let owner: TestUser;
let viewer: TestUser;
let member: TestUser;
let other: TestUser;
let site: { id: string; site_key: string };
const tokens = new Map<Caller, string>();
const lacking = new Map<Permission, string>();

beforeAll(async () => {
  api = await startApi();
  [owner, viewer, member, other] = [
    await signup(api.app),
    await signup(api.app),
    await signup(api.app),
    await signup(api.app),
  ];
  site = await createSite(api.app, owner.token);
  const elsewhere = await createSite(api.app, owner.token);
  await invite(api.app, owner.token, site.id, viewer.email, 'viewer');
  await invite(api.app, owner.token, site.id, member.email, 'member');
  tokens.set('owner session', owner.token);
  tokens.set(
    'owner full token',
    (await createAccessToken(api.app, owner.token, { permissions: [...PERMISSIONS] })).token,
  );
  tokens.set(
    'token restricted to another site',
    (
      await createAccessToken(api.app, owner.token, {
        permissions: [...PERMISSIONS],
        site_ids: [elsewhere.id],
      })
    ).token,
  );
  tokens.set('site API key', (await createApiKey(api.app, owner.token, site.id)).token);
  tokens.set('viewer', viewer.token);
  tokens.set('member', member.token);
  tokens.set('other account', other.token);
  for (const p of PERMISSIONS) {
    lacking.set(
      p,
      (await createAccessToken(api.app, owner.token, { permissions: PERMISSIONS.filter((x) => x !== p) }))
        .token,
    );
  }
});
afterAll(async () => api?.close());

/** A fresh site of the owner's with the viewer and member on it, for routes that destroy their target. */
async function freshSharedSite() {
  const s = await createSite(api.app, owner.token);
  await invite(api.app, owner.token, s.id, viewer.email, 'viewer');
  await invite(api.app, owner.token, s.id, member.email, 'member');
  return s;
}

const ROUTES: Route[] = [
  {
    method: 'GET',
    name: '/account',
    permission: 'account:read',
    site: false,
    success: 200,
    prepare: async () => ({ url: '/api/v1/account' }),
  },
  {
    method: 'PUT',
    name: '/account',
    permission: 'account:write',
    site: false,
    success: 200,
    prepare: async () => ({ url: '/api/v1/account', body: { name: 'Renamed' } }),
  },
  {
    method: 'GET',
    name: '/access-tokens',
    permission: 'api-keys:read',
    site: false,
    success: 200,
    prepare: async () => ({ url: '/api/v1/access-tokens' }),
  },
  {
    method: 'POST',
    name: '/access-tokens',
    permission: 'api-keys:write',
    site: false,
    success: 201,
    refusesRestricted: true,
    prepare: async () => ({
      url: '/api/v1/access-tokens',
      body: { name: 'made', permissions: ['sites:read'] },
    }),
  },
  {
    method: 'DELETE',
    name: '/access-tokens/{id}',
    permission: 'api-keys:write',
    site: false,
    success: 200,
    ownerResource: true,
    prepare: async () => {
      const t = await createAccessToken(api.app, owner.token, { permissions: ['sites:read'] });
      return { url: `/api/v1/access-tokens/${t.id}` };
    },
  },
  {
    method: 'GET',
    name: '/activity',
    permission: 'account:read',
    site: false,
    success: 200,
    prepare: async () => ({ url: '/api/v1/activity' }),
  },
  {
    method: 'GET',
    name: '/sites',
    permission: 'sites:read',
    site: false,
    success: 200,
    prepare: async () => ({ url: '/api/v1/sites' }),
  },
  {
    method: 'POST',
    name: '/sites',
    permission: 'sites:write',
    site: false,
    success: 201,
    refusesRestricted: true,
    prepare: async () => ({
      url: '/api/v1/sites',
      body: { domain: `m-${uniqueSuffix()}.example.com`, name: 'M' },
    }),
  },
  {
    method: 'GET',
    name: '/sites/{site}',
    permission: 'sites:read',
    site: true,
    success: 200,
    prepare: async () => ({ url: `/api/v1/sites/${site.id}` }),
  },
  {
    method: 'PATCH',
    name: '/sites/{site}',
    permission: 'sites:write',
    site: true,
    success: 200,
    prepare: async () => ({ url: `/api/v1/sites/${site.site_key}`, body: { name: `N ${uniqueSuffix()}` } }),
  },
  {
    method: 'DELETE',
    name: '/sites/{site}',
    permission: 'sites:write',
    site: true,
    ownerOnly: true,
    success: 200,
    prepare: async () => ({ url: `/api/v1/sites/${(await freshSharedSite()).id}` }),
  },
  {
    method: 'GET',
    name: '/sites/{site}/api-keys',
    permission: 'api-keys:read',
    site: true,
    success: 200,
    prepare: async () => ({ url: `/api/v1/sites/${site.id}/api-keys` }),
  },
  {
    method: 'POST',
    name: '/sites/{site}/api-keys',
    permission: 'api-keys:write',
    site: true,
    success: 201,
    prepare: async () => ({ url: `/api/v1/sites/${site.id}/api-keys`, body: { name: 'k' } }),
  },
  {
    method: 'POST',
    name: '/sites/{site}/api-keys/{id}/roll',
    permission: 'api-keys:write',
    site: true,
    success: 200,
    prepare: async () => {
      const k = await createApiKey(api.app, owner.token, site.id);
      return { url: `/api/v1/sites/${site.id}/api-keys/${k.id}/roll` };
    },
  },
  {
    method: 'DELETE',
    name: '/sites/{site}/api-keys/{id}',
    permission: 'api-keys:write',
    site: true,
    success: 200,
    prepare: async () => {
      const k = await createApiKey(api.app, owner.token, site.id);
      return { url: `/api/v1/sites/${site.id}/api-keys/${k.id}` };
    },
  },
  {
    method: 'GET',
    name: '/sites/{site}/team',
    permission: 'team:read',
    site: true,
    success: 200,
    prepare: async () => ({ url: `/api/v1/sites/${site.id}/team` }),
  },
  {
    method: 'POST',
    name: '/sites/{site}/team',
    permission: 'team:write',
    site: true,
    success: 201,
    prepare: async () => ({
      url: `/api/v1/sites/${site.id}/team`,
      body: { email: `t-${uniqueSuffix()}@example.com`, role: 'viewer' },
    }),
  },
  {
    method: 'DELETE',
    name: '/sites/{site}/team',
    permission: 'team:write',
    site: true,
    success: 200,
    prepare: async () => {
      const email = `d-${uniqueSuffix()}@example.com`;
      await invite(api.app, owner.token, site.id, email, 'viewer');
      return { url: `/api/v1/sites/${site.id}/team`, body: { email } };
    },
  },
  ...configRoutes(),
];

/** Goals, funnels, alerts and webhooks: members write them, viewers read them (ROLE_PERMISSIONS). */
function configRoutes(): Route[] {
  const sitePath = (path: string) => `/api/v1/sites/${site.id}${path}`;
  const create = async (path: string, body: unknown) => {
    const res = await call(api.app, 'POST', sitePath(path), { token: owner.token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.data.id as string;
  };
  const goal = () => create('/goals', { name: `g-${uniqueSuffix()}`, event_name: 'signup' });
  const funnelBody = () => ({
    name: `f-${uniqueSuffix()}`,
    steps: [
      { name: 'Home', type: 'pageview', url: '/' },
      { name: 'Pricing', type: 'pageview', url: '/pricing' },
    ],
  });
  const alertBody = () => ({
    name: 'a',
    trigger: { metric: 'visitors', window_minutes: 60, op: 'gt', value: 100 },
    template: { subject: 's', message: 'm' },
  });
  const hookBody = { url: 'https://hooks.example.com/in', events: ['goal.completed'] };
  const testDelivery = async () => {
    const hook = await create('/webhooks', hookBody);
    const res = await call(api.app, 'POST', sitePath(`/webhooks/${hook}/test`), { token: owner.token });
    return { hook, delivery: res.body.data.id as string };
  };
  const route = (
    method: Route['method'],
    name: string,
    permission: Permission,
    success: number,
    prepare: Route['prepare'],
  ): Route => ({ method, name: `/sites/{site}${name}`, permission, site: true, success, prepare });
  return [
    route('GET', '/goals', 'goals:read', 200, async () => ({ url: sitePath('/goals') })),
    route('POST', '/goals', 'goals:write', 201, async () => ({
      url: sitePath('/goals'),
      body: { name: `g-${uniqueSuffix()}`, page_path: '/signup' },
    })),
    route('DELETE', '/goals/{id}', 'goals:write', 200, async () => ({
      url: sitePath(`/goals/${await goal()}`),
    })),
    route('GET', '/funnels', 'funnels:read', 200, async () => ({ url: sitePath('/funnels') })),
    route('POST', '/funnels', 'funnels:write', 201, async () => ({
      url: sitePath('/funnels'),
      body: funnelBody(),
    })),
    route('PUT', '/funnels/{id}', 'funnels:write', 200, async () => ({
      url: sitePath(`/funnels/${await create('/funnels', funnelBody())}`),
      body: { window_minutes: 30 },
    })),
    route('DELETE', '/funnels/{id}', 'funnels:write', 200, async () => ({
      url: sitePath(`/funnels/${await create('/funnels', funnelBody())}`),
    })),
    route('GET', '/alerts', 'alerts:read', 200, async () => ({ url: sitePath('/alerts') })),
    route('GET', '/alerts/history', 'alerts:read', 200, async () => ({
      url: sitePath('/alerts/history?limit=5'),
    })),
    route('POST', '/alerts', 'alerts:write', 201, async () => ({
      url: sitePath('/alerts'),
      body: alertBody(),
    })),
    route('PUT', '/alerts/{id}', 'alerts:write', 200, async () => ({
      url: sitePath(`/alerts/${await create('/alerts', alertBody())}`),
      body: { is_enabled: false },
    })),
    route('DELETE', '/alerts/{id}', 'alerts:write', 200, async () => ({
      url: sitePath(`/alerts/${await create('/alerts', alertBody())}`),
    })),
    route('GET', '/webhooks', 'webhooks:read', 200, async () => ({ url: sitePath('/webhooks') })),
    route('POST', '/webhooks', 'webhooks:write', 201, async () => ({
      url: sitePath('/webhooks'),
      body: hookBody,
    })),
    route('PUT', '/webhooks/{id}', 'webhooks:write', 200, async () => ({
      url: sitePath(`/webhooks/${await create('/webhooks', hookBody)}`),
      body: { events: ['alert.triggered'] },
    })),
    route('DELETE', '/webhooks/{id}', 'webhooks:write', 200, async () => ({
      url: sitePath(`/webhooks/${await create('/webhooks', hookBody)}`),
    })),
    route('POST', '/webhooks/{id}/test', 'webhooks:write', 202, async () => ({
      url: sitePath(`/webhooks/${await create('/webhooks', hookBody)}/test`),
    })),
    route('GET', '/webhooks/{id}/deliveries', 'webhooks:read', 200, async () => ({
      url: sitePath(`/webhooks/${(await testDelivery()).hook}/deliveries`),
    })),
    route('POST', '/webhooks/{id}/deliveries/{delivery_id}/redeliver', 'webhooks:write', 202, async () => {
      const { hook, delivery } = await testDelivery();
      return { url: sitePath(`/webhooks/${hook}/deliveries/${delivery}/redeliver`) };
    }),
  ];
}

function expected(route: Route, caller: Caller): [number, string?] {
  const ok: [number] = [route.success];
  if (caller === 'none') return [401, 'missing_token'];
  if (caller === 'site API key') return [403, 'insufficient_scope'];
  if (caller === 'token without the permission') return [403, 'insufficient_scope'];
  if (!route.site) {
    if (caller === 'token restricted to another site' && route.refusesRestricted)
      return [403, 'insufficient_scope'];
    if (route.ownerResource && ['viewer', 'member', 'other account'].includes(caller))
      return [404, 'not_found'];
    return ok;
  }
  if (caller === 'other account') return [404, 'not_found'];
  if (caller === 'token restricted to another site') return [403, 'insufficient_scope'];
  if (caller === 'viewer' || caller === 'member') {
    const allowed = ROLE_PERMISSIONS[caller].has(route.permission) && !route.ownerOnly;
    return allowed ? ok : [403, 'forbidden'];
  }
  return ok;
}

describe('authorization matrix', () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.name}`, async () => {
      const mismatches: string[] = [];
      for (const caller of CALLERS) {
        const { url, body } = await route.prepare();
        const token =
          caller === 'token without the permission' ? lacking.get(route.permission) : tokens.get(caller);
        const res = await call(api.app, route.method, url, {
          token,
          ...(body !== undefined ? { body } : {}),
        });
        const [status, code] = expected(route, caller);
        const got = `${res.status} ${res.status >= 400 ? res.body?.error?.code : ''}`.trim();
        const want = `${status} ${code ?? ''}`.trim();
        if (got !== want)
          mismatches.push(`${caller}: expected ${want}, got ${got} ${JSON.stringify(res.body?.error ?? '')}`);
        // Every authenticated answer carries the limit headers, whatever its status.
        if (caller !== 'none' && res.headers['x-ratelimit-limit'] === undefined) {
          mismatches.push(`${caller}: no X-RateLimit-Limit header`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('lists only the sites a restricted token names, and an account’s own plus shared sites', async () => {
    const list = await call(api.app, 'GET', '/api/v1/sites', {
      token: tokens.get('token restricted to another site'),
    });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].id).not.toBe(site.id);
    const viewerSites = await call(api.app, 'GET', '/api/v1/sites', { token: viewer.token });
    expect(viewerSites.body.data.map((s: { id: string }) => s.id)).toContain(site.id);
    const stranger = await signup(api.app);
    const strangerSites = await call(api.app, 'GET', '/api/v1/sites', { token: stranger.token });
    expect(strangerSites.body.data).toEqual([]);
  });

  it('follows the creator’s current role: a demoted user’s token loses rights at once', async () => {
    const s = await freshSharedSite();
    const t = await createAccessToken(api.app, member.token, { permissions: ['sites:read', 'sites:write'] });
    const patch = () =>
      call(api.app, 'PATCH', `/api/v1/sites/${s.id}`, { token: t.token, body: { public_stats: true } });
    expect((await patch()).status).toBe(200);
    await call(api.app, 'DELETE', `/api/v1/sites/${s.id}/team`, {
      token: owner.token,
      body: { email: member.email },
    });
    await invite(api.app, owner.token, s.id, member.email, 'viewer');
    expect((await patch()).body.error.code).toBe('forbidden');
    await call(api.app, 'DELETE', `/api/v1/sites/${s.id}/team`, {
      token: owner.token,
      body: { email: member.email },
    });
    expect((await patch()).body.error.code).toBe('not_found');
  });
});
