import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningPipeline } from '../../../test/support/services';
import { waitFor } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createApiKey,
  createSite,
  expectError,
  invite,
  signup,
  twoApiProcesses,
} from './helpers';

/**
 * Resolved tokens and site lists are cached per api process (AUTH_CACHE_TTL_MS and
 * SITE_ACCESS_CACHE_TTL_MS, 10 s by default). A change on one replica must reach the others through
 * Redis, not wait for their caches to expire.
 */
describe('metadata caches across two api processes', () => {
  let pipeline: RunningPipeline;
  let a: string;
  let b: string;

  beforeAll(async () => {
    ({ pipeline, a, b } = await twoApiProcesses({
      AUTH_CACHE_TTL_MS: '300000',
      SITE_ACCESS_CACHE_TTL_MS: '300000',
    }));
  });
  afterAll(async () => pipeline?.stop());

  const refusedWithin = async (origin: string, path: string, token: string) => {
    await waitFor(
      async () => ((await call(origin, 'GET', path, { token })).status === 401 ? true : undefined),
      {
        timeout: 2_000,
        interval: 20,
        message: `${origin} to refuse the revoked token`,
      },
    );
    expectError(await call(origin, 'GET', path, { token }), 401, 'invalid_token');
  };

  it('a deleted access token stops on the other replica too', async () => {
    const user = await signup(a);
    const t = await createAccessToken(a, user.token, { permissions: ['sites:read'] });
    for (const origin of [a, b]) {
      expect((await call(origin, 'GET', '/api/v1/sites', { token: t.token })).status).toBe(200);
    }
    expect((await call(a, 'DELETE', `/api/v1/access-tokens/${t.id}`, { token: user.token })).status).toBe(
      200,
    );
    // At once where it was deleted; through Redis on the other, well before its 5-minute cache TTL.
    expectError(await call(a, 'GET', '/api/v1/sites', { token: t.token }), 401, 'invalid_token');
    await refusedWithin(b, '/api/v1/sites', t.token);
  });

  it('a rolled site API key stops on the other replica too', async () => {
    const user = await signup(a);
    const site = await createSite(a, user.token);
    const key = await createApiKey(a, user.token, site.id);
    const stats = `/api/v1/stats/aggregate?site_id=${site.id}&period=7d&metrics=pageviews`;
    for (const origin of [a, b]) {
      expect((await call(origin, 'GET', stats, { token: key.token })).status).toBe(200);
    }
    const rolled = await call(b, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, {
      token: user.token,
    });
    expect(rolled.status).toBe(200);
    expectError(await call(b, 'GET', stats, { token: key.token }), 401, 'invalid_token');
    await refusedWithin(a, stats, key.token);
    expect((await call(a, 'GET', stats, { token: rolled.body.data.token })).status).toBe(200);
  });

  const listed = async (origin: string, token: string) => {
    const res = await call<{ data: Array<{ id: string; name: string }> }>(origin, 'GET', '/api/v1/sites', {
      token,
    });
    expect(res.status).toBe(200);
    return res.body.data.map((s) => `${s.id} ${s.name}`);
  };
  const listedWithin = async (origin: string, token: string, expected: string[]) => {
    await waitFor(
      async () =>
        JSON.stringify(await listed(origin, token)) === JSON.stringify(expected) ? true : undefined,
      { timeout: 2_000, interval: 20, message: `${origin} to list ${JSON.stringify(expected)}` },
    );
  };

  it('site lists and read-only site access follow changes made on the other replica', async () => {
    const owner = await signup(a);
    const member = await signup(a);
    // Before each change, both replicas hold the list it must change (for their 5-minute TTL).
    const holding = async (token: string, expected: string[]) => {
      for (const origin of [a, b]) expect(await listed(origin, token)).toEqual(expected);
    };

    await holding(owner.token, []);
    const site = await createSite(a, owner.token, { name: 'First' });
    expect(await listed(a, owner.token)).toEqual([`${site.id} First`]);
    await listedWithin(b, owner.token, [`${site.id} First`]);

    await holding(owner.token, [`${site.id} First`]);
    const renamed = await call(b, 'PATCH', `/api/v1/sites/${site.id}`, {
      token: owner.token,
      body: { name: 'Renamed' },
    });
    expect(renamed.status).toBe(200);
    expect(await listed(b, owner.token)).toEqual([`${site.id} Renamed`]);
    await listedWithin(a, owner.token, [`${site.id} Renamed`]);

    await holding(member.token, []);
    await invite(a, owner.token, site.id, member.email, 'viewer');
    expect(await listed(a, member.token)).toEqual([`${site.id} Renamed`]);
    await listedWithin(b, member.token, [`${site.id} Renamed`]);

    // Read-only routes reuse the site and role too: both replicas hold the viewer's.
    const stats = `/api/v1/stats/aggregate?site_id=${site.id}&period=7d&metrics=pageviews`;
    for (const origin of [a, b]) {
      expect((await call(origin, 'GET', stats, { token: member.token })).status).toBe(200);
    }
    await holding(member.token, [`${site.id} Renamed`]);
    const removed = await call(b, 'DELETE', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: member.email },
    });
    expect(removed.status).toBe(200);
    expect(await listed(b, member.token)).toEqual([]);
    await listedWithin(a, member.token, []);
    expectError(await call(b, 'GET', stats, { token: member.token }), 404, 'not_found');
    await waitFor(
      async () => ((await call(a, 'GET', stats, { token: member.token })).status === 404 ? true : undefined),
      { timeout: 2_000, interval: 20, message: `${a} to stop answering the removed viewer` },
    );

    await holding(owner.token, [`${site.id} Renamed`]);
    expect((await call(a, 'DELETE', `/api/v1/sites/${site.id}`, { token: owner.token })).status).toBe(200);
    expect(await listed(a, owner.token)).toEqual([]);
    await listedWithin(b, owner.token, []);
  });
});
