import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../../../test/support/stack';
import { recordActivity } from '../src/app';
import {
  call,
  createAccessToken,
  createApiKey,
  createSite,
  expectError,
  invite,
  signup,
  startApi,
  type TestApi,
} from './helpers';

let api: TestApi;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => api?.close());

const activity = (token: string, query = '') => call(api.app, 'GET', `/api/v1/activity${query}`, { token });

describe('activity log', () => {
  it('records every create, update and delete of sites, keys, tokens and team, newest first', async () => {
    const owner = await signup(api.app);
    const t = await createAccessToken(api.app, owner.token, { permissions: ['sites:write', 'sites:read'] });
    const site = await createSite(api.app, t.token);
    await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, {
      token: owner.token,
      body: { name: 'New name' },
    });
    const key = await createApiKey(api.app, owner.token, site.id);
    const rolled = await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys/${key.id}/roll`, {
      token: owner.token,
    });
    await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/api-keys/${rolled.body.data.id}`, {
      token: owner.token,
    });
    const member = await signup(api.app);
    await invite(api.app, owner.token, site.id, member.email, 'member');
    const pending = `p-${uniqueSuffix()}@example.com`;
    await invite(api.app, owner.token, site.id, pending, 'viewer');
    await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: member.email },
    });
    await call(api.app, 'DELETE', `/api/v1/access-tokens/${t.id}`, { token: owner.token });
    await call(api.app, 'DELETE', `/api/v1/sites/${site.id}`, { token: owner.token });

    const res = await activity(owner.token);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual([
      'site.deleted',
      'access_token.deleted',
      'team_member.removed',
      'team_member.invited',
      'team_member.added',
      'api_key.revoked',
      'api_key.rolled',
      'api_key.created',
      'site.updated',
      'site.created',
      'access_token.created',
    ]);
    expect(res.body.meta).toEqual({ limit: 50, next_before: null });
    const created = res.body.data.find((e: { action: string }) => e.action === 'site.created');
    expect(created).toEqual({
      id: expect.stringMatching(/^\d+$/),
      action: 'site.created',
      resource_type: 'site',
      resource_id: site.id,
      site_id: site.id,
      actor: { user_id: owner.user.id, email: owner.email, token_id: t.id },
      metadata: { domain: site.domain, name: site.name },
      created_at: expect.any(String),
    });
    const updated = res.body.data.find((e: { action: string }) => e.action === 'site.updated');
    expect(updated.metadata).toEqual({ changed: ['name'] });
    expect(updated.actor.token_id).toBeNull();
    expect(JSON.stringify(res.body)).not.toContain(key.token);
    // The member sees none of it: the log belongs to the site's account.
    expect((await activity(member.token)).body.data).toEqual([]);
  });

  it('pages newest first by cursor', async () => {
    const owner = await signup(api.app);
    const sites = [];
    for (let i = 0; i < 5; i++) sites.push(await createSite(api.app, owner.token));
    const first = await activity(owner.token, '?limit=2');
    expect(first.body.data.map((e: { resource_id: string }) => e.resource_id)).toEqual([
      sites[4]!.id,
      sites[3]!.id,
    ]);
    expect(first.body.meta.next_before).toBe(first.body.data[1].id);
    const second = await activity(owner.token, `?limit=2&before=${first.body.meta.next_before}`);
    expect(second.body.data.map((e: { resource_id: string }) => e.resource_id)).toEqual([
      sites[2]!.id,
      sites[1]!.id,
    ]);
    const third = await activity(owner.token, `?limit=2&before=${second.body.meta.next_before}`);
    expect(third.body.data.map((e: { resource_id: string }) => e.resource_id)).toEqual([sites[0]!.id]);
    expect(third.body.meta.next_before).toBeNull();
  });

  it('shows a site-restricted token only its sites’ entries', async () => {
    const owner = await signup(api.app);
    const a = await createSite(api.app, owner.token);
    await createSite(api.app, owner.token);
    const t = await createAccessToken(api.app, owner.token, {
      permissions: ['account:read'],
      site_ids: [a.id],
    });
    const res = await activity(t.token);
    expect(res.body.data.map((e: { site_id: string }) => e.site_id)).toEqual([a.id]);
  });

  it('refuses bad and unknown query parameters with 400 naming them', async () => {
    const owner = await signup(api.app);
    for (const [query, name] of [
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=ten', 'limit'],
      ['?before=abc', 'before'],
      ["?before=1'--", 'before'],
      ['?page=2', 'page'],
    ] as const) {
      const error = expectError(await activity(owner.token, query), 400, 'invalid_request');
      expect(error.message).toContain(name);
    }
  });

  it('exposes recordActivity for other resources, in the caller’s transaction', async () => {
    const owner = await signup(api.app);
    const site = await createSite(api.app, owner.token);
    const client = await api.pool.connect();
    try {
      await client.query('BEGIN');
      await recordActivity(client, {
        accountId: owner.account.id,
        actor: { userId: owner.user.id, tokenId: null },
        action: 'goal.created',
        resourceType: 'goal',
        resourceId: 'g1',
        siteId: site.id,
        metadata: { name: 'Signup' },
      });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await activity(owner.token)).body.data.map((e: { action: string }) => e.action)).not.toContain(
      'goal.created',
    );
    await recordActivity(api.pool, {
      accountId: owner.account.id,
      actor: { userId: owner.user.id, tokenId: null },
      action: 'goal.created',
      resourceType: 'goal',
      resourceId: 'g1',
      siteId: site.id,
      metadata: { name: 'Signup' },
    });
    expect((await activity(owner.token)).body.data[0]).toMatchObject({
      action: 'goal.created',
      resource_id: 'g1',
    });
  });
});
