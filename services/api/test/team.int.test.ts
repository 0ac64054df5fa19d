import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createSite,
  expectError,
  invite,
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
  api = await startApi();
  owner = await signup(api.app, 'Owner');
  site = await createSite(api.app, owner.token);
});
afterAll(async () => api?.close());

const team = (token: string, ref = site.id) => call(api.app, 'GET', `/api/v1/sites/${ref}/team`, { token });

describe('team', () => {
  it('adds a registered user at once and lists owner, members and invites', async () => {
    const member = await signup(api.app, 'Member');
    const added = await invite(api.app, owner.token, site.id, member.email.toUpperCase(), 'member');
    expect(added).toEqual({
      user_id: member.user.id,
      email: member.email,
      name: 'Member',
      role: 'member',
      status: 'active',
      created_at: expect.any(String),
    });
    const pendingEmail = `later-${uniqueSuffix()}@example.com`;
    const pending = await invite(api.app, owner.token, site.site_key, pendingEmail, 'viewer');
    expect(pending).toEqual({
      user_id: null,
      email: pendingEmail,
      name: null,
      role: 'viewer',
      status: 'pending',
      created_at: expect.any(String),
    });
    const list = await team(owner.token);
    expect(list.status).toBe(200);
    expect(
      list.body.data.map((m: { email: string; role: string; status: string }) => [m.email, m.role, m.status]),
    ).toEqual([
      [owner.email, 'owner', 'active'],
      [member.email, 'member', 'active'],
      [pendingEmail, 'viewer', 'pending'],
    ]);
    // The member now sees the site.
    expect((await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: member.token })).status).toBe(
      200,
    );
  });

  it('turns a pending invite into a membership when that email signs up', async () => {
    const email = `invitee-${uniqueSuffix()}@example.com`;
    await invite(api.app, owner.token, site.id, email, 'viewer');
    const res = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email, password: 'invitee password' },
    });
    expect(res.status).toBe(201);
    const token = res.body.data.token;
    const sites = await call(api.app, 'GET', '/api/v1/sites', { token });
    expect(sites.body.data.map((s: { id: string }) => s.id)).toEqual([site.id]);
    const entry = (await team(owner.token)).body.data.find((m: { email: string }) => m.email === email);
    expect(entry).toMatchObject({ status: 'active', role: 'viewer', user_id: res.body.data.user.id });
  });

  it('refuses duplicates and the owner with 409', async () => {
    const member = await signup(api.app);
    await invite(api.app, owner.token, site.id, member.email, 'viewer');
    const again = await call(api.app, 'POST', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: member.email, role: 'member' },
    });
    expectError(again, 409, 'conflict');
    const self = await call(api.app, 'POST', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: owner.email, role: 'member' },
    });
    expectError(self, 409, 'conflict');
  });

  it('removes members and invites; access ends at once', async () => {
    const member = await signup(api.app);
    await invite(api.app, owner.token, site.id, member.email, 'member');
    const memberToken = await createAccessToken(api.app, member.token, { permissions: ['sites:read'] });
    expect(
      (await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: memberToken.token })).status,
    ).toBe(200);

    const res = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: member.email },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { removed: true, email: member.email } });
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: member.token }),
      404,
      'not_found',
    );
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: memberToken.token }),
      404,
      'not_found',
    );

    const pendingEmail = `gone-${uniqueSuffix()}@example.com`;
    await invite(api.app, owner.token, site.id, pendingEmail, 'viewer');
    const removed = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: pendingEmail },
    });
    expect(removed.status).toBe(200);
    expectError(
      await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
        token: owner.token,
        body: { email: pendingEmail },
      }),
      404,
      'not_found',
    );
    const ownerRemoval = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
      token: owner.token,
      body: { email: owner.email },
    });
    expect(expectError(ownerRemoval, 422, 'validation_failed').details).toHaveProperty('email');
  });

  it('enforces roles: viewers read, members configure, only owners manage team, keys and deletion', async () => {
    const viewer = await signup(api.app);
    const member = await signup(api.app);
    await invite(api.app, owner.token, site.id, viewer.email, 'viewer');
    await invite(api.app, owner.token, site.id, member.email, 'member');

    expect((await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: viewer.token })).status).toBe(
      200,
    );
    expectError(
      await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, { token: viewer.token, body: { name: 'v' } }),
      403,
      'forbidden',
    );
    const patched = await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, {
      token: member.token,
      body: { public_stats: true },
    });
    expect(patched.status).toBe(200);
    for (const who of [viewer, member]) {
      expectError(
        await call(api.app, 'DELETE', `/api/v1/sites/${site.id}`, { token: who.token }),
        403,
        'forbidden',
      );
      expectError(await team(who.token), 403, 'forbidden');
      expectError(
        await call(api.app, 'POST', `/api/v1/sites/${site.id}/team`, {
          token: who.token,
          body: { email: `x-${uniqueSuffix()}@example.com`, role: 'viewer' },
        }),
        403,
        'forbidden',
      );
      expectError(
        await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
          token: who.token,
          body: { email: owner.email },
        }),
        403,
        'forbidden',
      );
      expectError(
        await call(api.app, 'GET', `/api/v1/sites/${site.id}/api-keys`, { token: who.token }),
        403,
        'forbidden',
      );
      expectError(
        await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys`, {
          token: who.token,
          body: { name: 'k' },
        }),
        403,
        'forbidden',
      );
    }
    // A member's token with every permission is still only a member.
    const memberAll = await createAccessToken(api.app, member.token, {
      permissions: ['sites:write', 'team:write'],
    });
    expectError(
      await call(api.app, 'DELETE', `/api/v1/sites/${site.id}`, { token: memberAll.token }),
      403,
      'forbidden',
    );
  });

  it('validates invites and removals, writing nothing', async () => {
    const before = await tableCounts(api.pool);
    const invites: unknown[] = [
      {},
      { email: 'not-an-email', role: 'viewer' },
      { email: 'a@example.com', role: 'owner' },
      { email: 'a@example.com', role: 'admin' },
      { email: 'a@example.com' },
      { email: 'a@example.com', role: 'viewer', site_id: site.id },
      { email: `${'a'.repeat(300)}@example.com`, role: 'viewer' },
      { email: "a@example.com' OR '1'='1", role: 'viewer' },
      { email: 'a@example.com\r\nBcc: b@example.com', role: 'viewer' },
    ];
    for (const body of invites) {
      const res = await call(api.app, 'POST', `/api/v1/sites/${site.id}/team`, { token: owner.token, body });
      expectError(res, 422, 'validation_failed');
    }
    for (const body of [{}, { email: 5 }, { email: 'a@example.com', role: 'viewer' }]) {
      const res = await call(api.app, 'DELETE', `/api/v1/sites/${site.id}/team`, {
        token: owner.token,
        body,
      });
      expectError(res, 422, 'validation_failed');
    }
    expectError(
      await call(api.app, 'POST', `/api/v1/sites/${site.id}/team`, { token: owner.token, body: '{"email":' }),
      400,
      'invalid_request',
    );
    expect(await tableCounts(api.pool)).toEqual(before);
  });
});
