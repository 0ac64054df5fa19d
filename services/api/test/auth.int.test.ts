import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createSite,
  expectError,
  JWT_SECRET,
  signup,
  startApi,
  tableCounts,
  type TestApi,
} from './helpers';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ TOKEN_USAGE_FLUSH_SECONDS: '1' });
});
afterAll(async () => api?.close());

describe('signup', () => {
  it('creates a user, the account it owns and a session token', async () => {
    const email = `New-${uniqueSuffix()}@Example.com`;
    const res = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email, password: 'ten chars!', name: 'Ada' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      user: {
        id: expect.any(String),
        email: email.toLowerCase(),
        name: 'Ada',
        created_at: expect.any(String),
      },
      account: { id: expect.any(String), name: 'Ada', plan: 'self_hosted', created_at: expect.any(String) },
      token: expect.any(String),
      expires_at: expect.any(String),
    });
    const me = await call(api.app, 'GET', '/api/v1/account', { token: res.body.data.token });
    expect(me.status).toBe(200);
    expect(me.body.data.user.email).toBe(email.toLowerCase());
  });

  it('refuses a registered email with 409, whatever its case', async () => {
    const user = await signup(api.app);
    const res = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: user.email.toUpperCase(), password: 'another password' },
    });
    expectError(res, 409, 'conflict');
  });

  it('refuses short passwords, bad emails and unknown fields with 422 and details', async () => {
    const before = await tableCounts(api.pool);
    const short = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: `a-${uniqueSuffix()}@example.com`, password: 'nine char' },
    });
    expect(expectError(short, 422, 'validation_failed').details).toEqual({
      password: ['must be at least 10 characters'],
    });
    const bad = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: "x' OR 1=1 --", password: 12345678901, admin: true },
    });
    expect(Object.keys(expectError(bad, 422, 'validation_failed').details!).sort()).toEqual([
      'admin',
      'email',
      'password',
    ]);
    const huge = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: `a-${uniqueSuffix()}@example.com`, password: 'x'.repeat(2000), name: 'n'.repeat(5000) },
    });
    expect(Object.keys(expectError(huge, 422, 'validation_failed').details!).sort()).toEqual([
      'name',
      'password',
    ]);
    const crlf = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: {
        email: `a-${uniqueSuffix()}@example.com`,
        password: 'long enough 1',
        name: 'Eve\r\nSet-Cookie: a=b',
      },
    });
    expect(expectError(crlf, 422, 'validation_failed').details).toHaveProperty('name');
    expect(await tableCounts(api.pool)).toEqual(before);
  });

  it('names unknown fields called like Object.prototype members as any other (422, not 500)', async () => {
    const res = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: 'not-an-email', password: 'long enough 1', constructor: {}, toString: 1 },
    });
    expect(expectError(res, 422, 'validation_failed').details).toEqual({
      email: [expect.any(String)],
      constructor: ['is not a known field'],
      toString: ['is not a known field'],
    });
    const user = await signup(api.app);
    for (const name of ['constructor', 'hasOwnProperty']) {
      const query = await call(api.app, 'GET', `/api/v1/account?${name}=1`, { token: user.token });
      expect(expectError(query, 400, 'invalid_request').message).toBe(`unknown query parameter: ${name}`);
    }
  });

  it('answers 400 to malformed JSON, 415 to other media types and 413 to huge bodies', async () => {
    const before = await tableCounts(api.pool);
    expectError(
      await call(api.app, 'POST', '/api/v1/auth/signup', { body: '{"email": ' }),
      400,
      'invalid_request',
    );
    const text = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      headers: { 'content-type': 'text/plain' },
      payload: 'email=a',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
    const big = await call(api.app, 'POST', '/api/v1/auth/signup', {
      body: { email: 'a@example.com', password: 'x'.repeat(70 * 1024) },
    });
    expectError(big, 413, 'payload_too_large');
    expect(await tableCounts(api.pool)).toEqual(before);
  });

  it('lets only the first user sign up when signup is closed', async () => {
    const closed = await startApi({ SIGNUP_OPEN: 'false' });
    try {
      const first = await call(closed.app, 'POST', '/api/v1/auth/signup', {
        body: { email: 'first@example.com', password: 'first password' },
      });
      expect(first.status).toBe(201);
      const second = await call(closed.app, 'POST', '/api/v1/auth/signup', {
        body: { email: 'second@example.com', password: 'second password' },
      });
      expectError(second, 403, 'forbidden');
      const { rows } = await closed.pool.query('SELECT email FROM users');
      expect(rows).toEqual([{ email: 'first@example.com' }]);
    } finally {
      await closed.close();
    }
  });
});

describe('login', () => {
  it('exchanges the right password for a session token with an expiry', async () => {
    const user = await signup(api.app);
    const res = await call(api.app, 'POST', '/api/v1/auth/login', {
      body: { email: user.email.toUpperCase(), password: user.password },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ token: expect.any(String), expires_at: expect.any(String) });
    const hours = (Date.parse(res.body.data.expires_at) - Date.now()) / 3600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: res.body.data.token })).status).toBe(200);
  });

  it('answers unknown emails and wrong passwords alike, in similar time', async () => {
    const user = await signup(api.app);
    const attempt = async (email: string) => {
      const start = performance.now();
      const res = await call(api.app, 'POST', '/api/v1/auth/login', {
        body: { email, password: 'not the password' },
      });
      return { res, ms: performance.now() - start };
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await attempt(user.email);
      const b = await attempt(`nobody-${uniqueSuffix()}@example.com`);
      expectError(a.res, 401, 'invalid_credentials');
      expectError(b.res, 401, 'invalid_credentials');
      expect(b.res.body).toEqual(a.res.body);
      wrong.push(a.ms);
      unknown.push(b.ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[2]!;
    // Both paths run one scrypt verification (tens of ms); a skipped hash would be ~10x faster.
    expect(median(unknown)).toBeGreaterThan(median(wrong) / 3);
    expect(median(unknown)).toBeLessThan(median(wrong) * 3);
  });

  it('validates its body', async () => {
    expectError(
      await call(api.app, 'POST', '/api/v1/auth/login', { body: { email: 'a@b.c' } }),
      422,
      'validation_failed',
    );
    expectError(await call(api.app, 'POST', '/api/v1/auth/login', { body: '[' }), 400, 'invalid_request');
    // PostgreSQL refuses a NUL byte in a query: this was a 500.
    const nul = await call(api.app, 'POST', '/api/v1/auth/login', {
      body: { email: 'a\u0000@b.c', password: 'long enough 1' },
    });
    expect(expectError(nul, 422, 'validation_failed').details).toEqual({
      email: ['must not contain control characters'],
    });
  });
});

describe('bearer tokens', () => {
  it('answers 401 missing_token, with the challenge, when no bearer token is sent', async () => {
    for (const headers of [{}, { authorization: 'Basic YTpi' }, { authorization: 'Bearer ' }] as Record<
      string,
      string
    >[]) {
      const res = await call(api.app, 'GET', '/api/v1/sites', { headers });
      expectError(res, 401, 'missing_token');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tidemark"');
    }
  });

  it('ignores a token in the query string', async () => {
    const user = await signup(api.app);
    for (const param of ['token', 'access_token', 'api_key']) {
      const res = await call(api.app, 'GET', `/api/v1/sites?${param}=${encodeURIComponent(user.token)}`);
      expectError(res, 401, 'missing_token');
    }
  });

  it('answers 401 invalid_token for malformed, unknown, forged and expired tokens', async () => {
    const user = await signup(api.app);
    const key = new TextEncoder().encode(JWT_SECRET);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tidemark')
      .setAudience('tidemark-api')
      .setSubject(user.user.id)
      .setJti('x')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 1)
      .sign(key);
    const otherKey = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tidemark')
      .setAudience('tidemark-api')
      .setSubject(user.user.id)
      .setJti('x')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-000000'));
    const ghost = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tidemark')
      .setAudience('tidemark-api')
      .setSubject('00000000-0000-4000-8000-000000000000')
      .setJti('x')
      .setExpirationTime('1h')
      .sign(key);
    const tokens = [
      'garbage',
      'tma_0123456789ab_' + 'A'.repeat(40),
      'tmk_0123456789ab_' + 'A'.repeat(40),
      user.token.slice(0, -2) + 'xx',
      expired,
      otherKey,
      ghost,
      'a b',
    ];
    for (const token of tokens) {
      const res = await call(api.app, 'GET', '/api/v1/sites', {
        headers: { authorization: `Bearer ${token}` },
      });
      expectError(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tidemark", error="invalid_token"');
    }
  });
});

describe('account', () => {
  it('shows the user, the account and its usage, and renames the user', async () => {
    const user = await signup(api.app, 'Grace');
    await createSite(api.app, user.token);
    const res = await call(api.app, 'GET', '/api/v1/account', { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      user: { id: user.user.id, email: user.email, name: 'Grace', created_at: expect.any(String) },
      account: { id: user.account.id, name: 'Grace', plan: 'self_hosted', created_at: expect.any(String) },
      usage: { sites: 1, events_this_month: 0 },
    });
    const put = await call(api.app, 'PUT', '/api/v1/account', {
      token: user.token,
      body: { name: 'Grace H.' },
    });
    expect(put.status).toBe(200);
    expect(put.body.data.user.name).toBe('Grace H.');
  });

  it('validates the update and names unknown query parameters', async () => {
    const user = await signup(api.app);
    const before = await tableCounts(api.pool);
    for (const body of [
      {},
      { name: 42 },
      { name: '' },
      { name: 'ok', plan: 'enterprise' },
      { name: 'x'.repeat(101) },
    ]) {
      expectError(
        await call(api.app, 'PUT', '/api/v1/account', { token: user.token, body }),
        422,
        'validation_failed',
      );
    }
    expectError(
      await call(api.app, 'PUT', '/api/v1/account', { token: user.token, body: '{' }),
      400,
      'invalid_request',
    );
    expect(await tableCounts(api.pool)).toEqual(before);
    const res = await call(api.app, 'GET', '/api/v1/account?expand=all', { token: user.token });
    expect(expectError(res, 400, 'invalid_request').message).toContain('expand');
  });
});

describe('access tokens', () => {
  it('shows the secret once, stores only its hash, and lists without it', async () => {
    const user = await signup(api.app);
    const site = await createSite(api.app, user.token);
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await call(api.app, 'POST', '/api/v1/access-tokens', {
      token: user.token,
      body: {
        name: 'ci',
        permissions: ['stats:read', 'sites:read', 'stats:read'],
        site_ids: [site.id],
        expires_at: expires,
      },
    });
    expect(res.status).toBe(201);
    const created = res.body.data;
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      name: 'ci',
      permissions: ['stats:read', 'sites:read'],
      site_ids: [site.id],
      key_prefix: `tma_${created.id}`,
      preview: `tma_${created.id}_${'*'.repeat(32)}`,
      expires_at: expires,
      last_used_at: null,
      created_at: expect.any(String),
      token: expect.stringMatching(new RegExp(`^tma_${created.id}_[0-9A-Za-z]{32,}$`)),
    });

    const list = await call(api.app, 'GET', '/api/v1/access-tokens', { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.data).toEqual([expect.objectContaining({ id: created.id, preview: created.preview })]);
    expect(JSON.stringify(list.body)).not.toContain(created.token.split('_')[2]);
    expect(list.body.data[0]).not.toHaveProperty('token');

    const secret = created.token.split('_')[2];
    const { rows } = await api.pool.query('SELECT * FROM account_tokens WHERE id = $1', [created.id]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const { createHash } = await import('node:crypto');
    expect(rows[0].secret_hash.equals(createHash('sha256').update(secret).digest())).toBe(true);
  });

  it('works until deleted or expired, then answers 401 invalid_token at once', async () => {
    const user = await signup(api.app);
    const a = await createAccessToken(api.app, user.token, { permissions: ['sites:read'] });
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: a.token })).status).toBe(200);
    const del = await call(api.app, 'DELETE', `/api/v1/access-tokens/${a.id}`, { token: user.token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ data: { deleted: true } });
    expectError(await call(api.app, 'GET', '/api/v1/sites', { token: a.token }), 401, 'invalid_token');
    expectError(
      await call(api.app, 'DELETE', `/api/v1/access-tokens/${a.id}`, { token: user.token }),
      404,
      'not_found',
    );

    // Used (and so cached) before it expires, refused right after: the cache keeps the expiry.
    const expiresAt = Date.now() + 3_000;
    const b = await createAccessToken(api.app, user.token, {
      permissions: ['sites:read'],
      expires_at: new Date(expiresAt).toISOString(),
    });
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: b.token })).status).toBe(200);
    await sleep(expiresAt - Date.now() + 50);
    expectError(await call(api.app, 'GET', '/api/v1/sites', { token: b.token }), 401, 'invalid_token');
  });

  it('records last_used_at in batches, not per request', async () => {
    const user = await signup(api.app);
    const t = await createAccessToken(api.app, user.token, { permissions: ['sites:read'] });
    for (let i = 0; i < 3; i++) await call(api.app, 'GET', '/api/v1/sites', { token: t.token });
    let used: string | null = null;
    for (let i = 0; i < 50 && !used; i++) {
      await new Promise((r) => setTimeout(r, 100));
      used = (await call(api.app, 'GET', '/api/v1/access-tokens', { token: user.token })).body.data[0]
        .last_used_at;
    }
    expect(Date.parse(used!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('cannot mint a token with more than it has', async () => {
    const user = await signup(api.app);
    const siteA = await createSite(api.app, user.token);
    const siteB = await createSite(api.app, user.token);
    const limited = await createAccessToken(api.app, user.token, {
      permissions: ['api-keys:write', 'sites:read'],
      site_ids: [siteA.id],
    });
    const more = await call(api.app, 'POST', '/api/v1/access-tokens', {
      token: limited.token,
      body: { name: 'x', permissions: ['sites:write'], site_ids: [siteA.id] },
    });
    expectError(more, 403, 'insufficient_scope');
    const wider = await call(api.app, 'POST', '/api/v1/access-tokens', {
      token: limited.token,
      body: { name: 'x', permissions: ['sites:read'], site_ids: [siteB.id] },
    });
    expectError(wider, 403, 'insufficient_scope');
    const unrestricted = await call(api.app, 'POST', '/api/v1/access-tokens', {
      token: limited.token,
      body: { name: 'x', permissions: ['sites:read'] },
    });
    expectError(unrestricted, 403, 'insufficient_scope');
    const within = await call(api.app, 'POST', '/api/v1/access-tokens', {
      token: limited.token,
      body: { name: 'x', permissions: ['sites:read'], site_ids: [siteA.id] },
    });
    expect(within.status).toBe(201);
  });

  it('validates the body: permissions, sites it cannot see, past expiry, unknown fields', async () => {
    const user = await signup(api.app);
    const other = await signup(api.app);
    const foreign = await createSite(api.app, other.token);
    const before = await tableCounts(api.pool);
    const cases: [unknown, string][] = [
      [{ name: 'x', permissions: [] }, 'permissions'],
      [{ name: 'x', permissions: ['root'] }, 'permissions.0'],
      [{ name: 'x', permissions: 'stats:read' }, 'permissions'],
      [{ name: 'x', permissions: ['stats:read'], site_ids: ['not-a-uuid'] }, 'site_ids.0'],
      [{ name: 'x', permissions: ['stats:read'], site_ids: [] }, 'site_ids'],
      [{ name: 'x', permissions: ['stats:read'], site_ids: [foreign.id] }, 'site_ids'],
      [{ name: 'x', permissions: ['stats:read'], expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      [{ name: 'x', permissions: ['stats:read'], expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: 'x', permissions: ['stats:read'], token: 'tma_mine' }, 'token'],
      [{ permissions: ['stats:read'] }, 'name'],
    ];
    for (const [body, field] of cases) {
      const res = await call(api.app, 'POST', '/api/v1/access-tokens', { token: user.token, body });
      expect(expectError(res, 422, 'validation_failed').details, JSON.stringify(body)).toHaveProperty([
        field,
      ]);
    }
    expect(await tableCounts(api.pool)).toEqual(before);
  });

  it('cannot delete another user’s token (404)', async () => {
    const a = await signup(api.app);
    const b = await signup(api.app);
    const t = await createAccessToken(api.app, a.token, { permissions: ['sites:read'] });
    expectError(
      await call(api.app, 'DELETE', `/api/v1/access-tokens/${t.id}`, { token: b.token }),
      404,
      'not_found',
    );
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: t.token })).status).toBe(200);
    // Ids that name no token, a NUL byte among them (PostgreSQL refuses it: this was a 500). Ids
    // are 12 lower-case hex digits, so an upper-case one never names a token; `t.id` upper-cased
    // is one only when it holds a letter (1 id in ~280 is all digits, and would name `t`).
    const upper = t.id.toUpperCase();
    for (const id of ['%00', 'nope', 'ABCDEF012345', ...(upper === t.id ? [] : [upper])]) {
      expectError(
        await call(api.app, 'DELETE', `/api/v1/access-tokens/${id}`, { token: a.token }),
        404,
        'not_found',
      );
    }
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: t.token })).status).toBe(200);
  });
});

describe('service routes', () => {
  it('serves OpenAPI built from the route schemas at /docs', async () => {
    const res = await call(api.app, 'GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/signup',
        '/api/v1/sites/',
        '/api/v1/sites/{site}',
        '/api/v1/sites/{site}/api-keys/{id}/roll',
        '/api/v1/activity/',
      ]),
    );
    const create = res.body.paths['/api/v1/sites/'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['domain', 'name']);
    expect((await call(api.app, 'GET', '/docs/json')).body).toEqual(res.body);
  });

  it('answers CORS preflights for any origin without credentials', async () => {
    const res = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/sites',
      headers: {
        origin: 'https://dashboard.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await call(api.app, 'GET', '/healthz')).status).toBe(200);
    const ready = await call(api.app, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.checks).sort()).toEqual(['clickhouse', 'postgres', 'redis']);
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('tidemark_http_request_duration_seconds');
  });
});

describe('create-user command', () => {
  const cli = fileURLToPath(new URL('../src/cli/create-user.ts', import.meta.url));
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...args], {
      env: { ...process.env, DATABASE_URL: api.config.DATABASE_URL },
    });

  it('creates a user and account and prints a token with every permission', async () => {
    const email = `Operator-${uniqueSuffix()}@example.com`;
    const { stdout } = await run(['--email', email, '--password', 'operator password', '--name', 'Op']);
    const token = /token\s+(tma_\S+)/.exec(stdout)?.[1];
    expect(token).toBeDefined();
    const me = await call(api.app, 'GET', '/api/v1/account', { token });
    expect(me.body.data.user).toMatchObject({ email: email.toLowerCase(), name: 'Op' });
    expect(
      (
        await call(api.app, 'POST', '/api/v1/sites', {
          token,
          body: { domain: 'op.example.com', name: 'Op' },
        })
      ).status,
    ).toBe(201);
    const login = await call(api.app, 'POST', '/api/v1/auth/login', {
      body: { email, password: 'operator password' },
    });
    expect(login.status).toBe(200);
  });

  it('fails with a message and exit code 1 on bad input or a taken email', async () => {
    await expect(run(['--email', 'x@example.com', '--password', 'short'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--password: must be at least 10 characters'),
    });
    const user = await signup(api.app);
    await expect(run(['--email', user.email, '--password', 'long enough pw'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('already registered'),
    });
  });
});
