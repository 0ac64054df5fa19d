import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSiteAccess, siteAccessOf } from '../src/app';
import {
  call,
  createAccessToken,
  createApiKey,
  createSite,
  expectError,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let site: { id: string; site_key: string };

beforeAll(async () => {
  // A probe route registered the way the stats routes are: it shows what the exported auth helpers
  // resolve for a site given as `site_id` (or implied by a site API key).
  api = await startApi({}, (app) =>
    app.register(
      async (stats) => {
        stats.addHook('onRequest', stats.authenticate);
        stats.get('/aggregate', { preHandler: requireSiteAccess('stats:read') }, async (req) => {
          const access = siteAccessOf(req);
          return { site_id: access.site.id, role: access.role, kind: access.principal.kind };
        });
      },
      { prefix: '/test/site-access' },
    ),
  );
  owner = await signup(api.app);
  site = await createSite(api.app, owner.token);
});
afterAll(async () => api?.close());

const stats = (token: string, siteRef?: string) =>
  call(
    api.app,
    'GET',
    `/test/site-access/aggregate${siteRef ? `?site_id=${encodeURIComponent(siteRef)}` : ''}`,
    {
      token,
    },
  );

describe('site API keys', () => {
  it('creates a key shown once, lists it masked, and keeps only the hash', async () => {
    const expires = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const res = await call(api.app, 'POST', `/api/v1/sites/${site.site_key}/api-keys`, {
      token: owner.token,
      body: { name: 'Production reporting', expires_at: expires },
    });
    expect(res.status).toBe(201);
    const key = res.body.data;
    expect(key).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      site_id: site.id,
      name: 'Production reporting',
      scope: 'stats:read',
      key_prefix: `tmk_${key.id}`,
      preview: `tmk_${key.id}_${'*'.repeat(32)}`,
      expires_at: expires,
      last_used_at: null,
      revoked_at: null,
      created_at: expect.any(String),
      token: expect.stringMatching(new RegExp(`^tmk_${key.id}_[0-9A-Za-z]{32,}$`)),
    });
    const secret = key.token.split('_')[2];

    const list = await call(api.app, 'GET', `/api/v1/sites/${site.id}/api-keys`, { token: owner.token });
    expect(list.status).toBe(200);
    const listed = list.body.data.find((k: { id: string }) => k.id === key.id);
    const { token: _token, ...withoutToken } = key;
    expect(listed).toEqual(withoutToken);
    expect(JSON.stringify(list.body)).not.toContain(secret);

    const { rows } = await api.pool.query('SELECT * FROM site_api_keys WHERE id = $1', [key.id]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0].secret_hash.equals(createHash('sha256').update(secret).digest())).toBe(true);
  });

  it('authenticates stats for its own site only, implied when the site is left out', async () => {
    const key = await createApiKey(api.app, owner.token, site.id);
    const other = await createSite(api.app, owner.token);
    for (const ref of [undefined, site.id, site.site_key]) {
      const res = await stats(key.token, ref);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ site_id: site.id, role: null, kind: 'site_api_key' });
      expect(res.headers['x-ratelimit-limit']).toBeDefined();
    }
    for (const ref of [other.id, other.site_key, '00000000-0000-4000-8000-000000000000']) {
      expectError(await stats(key.token, ref), 403, 'forbidden');
    }
    // Only stats:read: every admin route, even reading its own site, is out of scope.
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: key.token }),
      403,
      'insufficient_scope',
    );
    expectError(await call(api.app, 'GET', '/api/v1/sites', { token: key.token }), 403, 'insufficient_scope');
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}/api-keys`, { token: key.token }),
      403,
      'insufficient_scope',
    );
    expectError(
      await call(api.app, 'GET', '/api/v1/account', { token: key.token }),
      403,
      'insufficient_scope',
    );
  });

  it('gives the stats helper the caller’s role for user tokens', async () => {
    expect((await stats(owner.token, site.id)).body).toEqual({
      site_id: site.id,
      role: 'owner',
      kind: 'session',
    });
    expectError(await stats(owner.token), 400, 'invalid_request');
    const stranger = await signup(api.app);
    expectError(await stats(stranger.token, site.id), 404, 'not_found');
    const noStats = await createAccessToken(api.app, owner.token, { permissions: ['sites:read'] });
    expectError(await stats(noStats.token, site.id), 403, 'insufficient_scope');
  });

  it('stops a revoked key at once; revoking again answers the same', async () => {
    const key = await createApiKey(api.app, owner.token, site.id);
    expect((await stats(key.token)).status).toBe(200);
    const res = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/api-keys/${key.id}`, {
      token: owner.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: key.id, revoked_at: expect.any(String) });
    expect(res.body.data).not.toHaveProperty('token');
    expectError(await stats(key.token), 401, 'invalid_token');
    const again = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/api-keys/${key.id}`, {
      token: owner.token,
    });
    expect(again.body).toEqual(res.body);
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, { token: owner.token }),
      409,
      'conflict',
    );
  });

  it('rolls a key: the old secret fails at once, the new one works', async () => {
    const key = await createApiKey(api.app, owner.token, site.id, { name: 'rolling' });
    const res = await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, {
      token: owner.token,
    });
    expect(res.status).toBe(200);
    const rolled = res.body.data;
    expect(rolled).toMatchObject({
      name: 'rolling',
      site_id: site.id,
      revoked_at: null,
      token: expect.any(String),
    });
    expect(rolled.id).not.toBe(key.id);
    expectError(await stats(key.token), 401, 'invalid_token');
    expect((await stats(rolled.token)).status).toBe(200);
    const list = await call(api.app, 'GET', `/api/v1/sites/${site.id}/api-keys`, { token: owner.token });
    expect(list.body.data.find((k: { id: string }) => k.id === key.id).revoked_at).not.toBeNull();
  });

  it('stops an expired key at once', async () => {
    // Used (and so cached) before it expires, refused right after: the cache keeps the expiry.
    const expiresAt = Date.now() + 3_000;
    const key = await createApiKey(api.app, owner.token, site.id, {
      expires_at: new Date(expiresAt).toISOString(),
    });
    expect((await stats(key.token)).status).toBe(200);
    await sleep(expiresAt - Date.now() + 50);
    expectError(await stats(key.token), 401, 'invalid_token');
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, { token: owner.token }),
      409,
      'conflict',
    );
  });

  it('answers 404 for keys of other sites and unknown ids', async () => {
    const otherSite = await createSite(api.app, owner.token);
    const key = await createApiKey(api.app, owner.token, otherSite.id);
    // `%00` is a NUL byte, which PostgreSQL refuses outright: it was a 500.
    for (const id of [key.id, '000000000000', 'nope', '%00']) {
      expectError(
        await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/api-keys/${id}`, { token: owner.token }),
        404,
        'not_found',
      );
      expectError(
        await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${id}/roll`, { token: owner.token }),
        404,
        'not_found',
      );
    }
    expect((await stats(key.token)).status).toBe(200);
  });

  it('cannot be minted by a token without stats:read', async () => {
    const t = await createAccessToken(api.app, owner.token, { permissions: ['api-keys:write'] });
    const res = await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys`, {
      token: t.token,
      body: { name: 'x' },
    });
    expectError(res, 403, 'insufficient_scope');
  });

  it('validates the body and writes nothing on bad input', async () => {
    const before = await tableCounts(api.pool);
    const cases: unknown[] = [
      {},
      { name: '' },
      { name: 7 },
      { name: 'x'.repeat(500) },
      { name: 'ok', scope: 'sites:write' },
      { name: 'ok', expires_at: '2000-01-01T00:00:00Z' },
      { name: 'ok', expires_at: 'soon' },
      { name: 'a\nb' },
    ];
    for (const body of cases) {
      const res = await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys`, {
        token: owner.token,
        body,
      });
      expectError(res, 422, 'validation_failed');
    }
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys`, { token: owner.token, body: '{{' }),
      400,
      'invalid_request',
    );
    const key = await createApiKey(api.app, owner.token, site.id);
    const afterKey = await tableCounts(api.pool);
    const roll = await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, {
      token: owner.token,
      body: { keep_secret: true },
    });
    expect(expectError(roll, 422, 'validation_failed').details).toEqual({
      keep_secret: ['is not a known field'],
    });
    expect(await tableCounts(api.pool)).toEqual(afterKey);
    expect(afterKey.site_api_keys).toBe(before.site_api_keys! + 1);
  });
});
