import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse, waitFor } from '../../../test/support/stack';
import { siteRulesChannel } from '../src/sites/site-rules';
import {
  call,
  createSite,
  expectError,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
  listenToChannel,
} from './helpers';

let api: TestApi;
let owner: TestUser;
let invalidations: Awaited<ReturnType<typeof listenToChannel>>;

beforeAll(async () => {
  const ch = await freshClickHouse();
  api = await startApi({ CLICKHOUSE_DATABASE: ch.database });
  owner = await signup(api.app);
  invalidations = await listenToChannel(api.config.REDIS_URL, siteRulesChannel(api.config.REDIS_PREFIX));
});
afterAll(async () => {
  invalidations?.close();
  await api?.close();
});

const SITE_SHAPE = {
  id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  domain: expect.any(String),
  name: expect.any(String),
  site_key: expect.stringMatching(/^sk_[0-9A-Za-z]{16,}$/),
  timezone: expect.any(String),
  public_stats: expect.any(Boolean),
  currency: expect.any(String),
  events_this_month: expect.any(Number),
  settings: {
    excluded_ips: expect.any(Array),
    excluded_paths: expect.any(Array),
    excluded_countries: expect.any(Array),
    allowed_hostnames: expect.any(Array),
  },
  created_at: expect.any(String),
};

async function insertEvents(siteId: string, timestamps: Date[]) {
  await api.clickhouse.insert({
    table: 'events',
    values: timestamps.map((t) => ({
      event_id: randomUUID(),
      site_id: siteId,
      timestamp: t.toISOString().replace('T', ' ').replace('Z', ''),
      name: 'pageview',
      pathname: '/',
      hostname: 'example.com',
      visitor_id: 1,
      session_id: 1,
    })),
    format: 'JSONEachRow',
  });
}

describe('sites', () => {
  it('creates a site with defaults, lower-cased domain and a public sk_ key', async () => {
    const res = await call(api.app, 'POST', '/api/v1/sites', {
      token: owner.token,
      body: { domain: 'Blog.Example.COM', name: 'Blog' },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toEqual({
      ...SITE_SHAPE,
      domain: 'blog.example.com',
      name: 'Blog',
      timezone: 'UTC',
      public_stats: false,
      currency: 'USD',
      events_this_month: 0,
      settings: { excluded_ips: [], excluded_paths: [], excluded_countries: [], allowed_hostnames: [] },
    });
    await invalidations.heard(res.body.data.site_key, 'the create invalidation');
  });

  it('refuses a domain the account already tracks with 409, but another account may track it', async () => {
    await createSite(api.app, owner.token, { domain: 'dup.example.com' });
    const again = await call(api.app, 'POST', '/api/v1/sites', {
      token: owner.token,
      body: { domain: 'DUP.example.com', name: 'Again' },
    });
    expectError(again, 409, 'conflict');
    const other = await signup(api.app);
    await createSite(api.app, other.token, { domain: 'dup.example.com' });
  });

  it('reads a site by id and by site_key, and lists the caller’s sites', async () => {
    const site = await createSite(api.app, owner.token, { timezone: 'Asia/Kathmandu' });
    const byId = await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: owner.token });
    const byKey = await call(api.app, 'GET', `/api/v1/sites/${site.site_key}`, { token: owner.token });
    expect(byId.status).toBe(200);
    expect(byId.body.data).toEqual({ ...SITE_SHAPE, id: site.id, timezone: 'Asia/Kathmandu' });
    expect(byKey.body).toEqual(byId.body);
    const list = await call(api.app, 'GET', '/api/v1/sites', { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((s: { id: string }) => s.id)).toContain(site.id);
    for (const s of list.body.data) expect(s).toEqual(SITE_SHAPE);
    const stranger = await signup(api.app);
    expect((await call(api.app, 'GET', '/api/v1/sites', { token: stranger.token })).body).toEqual({
      data: [],
    });
  });

  it('answers 404 for unknown, malformed and other accounts’ sites', async () => {
    const other = await signup(api.app);
    const foreign = await createSite(api.app, other.token);
    for (const ref of [
      randomUUID(),
      'sk_doesnotexist12345',
      'nonsense',
      foreign.id,
      foreign.site_key,
      "1' OR '1'='1",
    ]) {
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const res = await call(api.app, method, `/api/v1/sites/${encodeURIComponent(ref)}`, {
          token: owner.token,
          ...(method === 'PATCH' ? { body: { name: 'mine now' } } : {}),
        });
        expectError(res, 404, 'not_found');
      }
    }
    expect(
      (await call(api.app, 'GET', `/api/v1/sites/${foreign.id}`, { token: other.token })).body.data.name,
    ).toBe('A site');
  });

  it('answers 404 in the one error shape for paths the router itself refuses', async () => {
    // Not UTF-8 once decoded (a lone surrogate's bytes), and longer than a path parameter may be:
    // fastify answered these in its own shape (400 FST_ERR_BAD_URL, 414 FST_ERR_MAX_PARAM_LENGTH).
    for (const ref of ['%ED%A0%80', 'a'.repeat(200)]) {
      for (const path of [`/api/v1/sites/${ref}`, `/api/v1/sites/${ref}/goals`]) {
        const res = await call(api.app, 'GET', path, { token: owner.token });
        expect(res.body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
        expect(res.status).toBe(404);
      }
    }
  });

  it('updates any field, merges settings per list, and publishes an invalidation', async () => {
    const site = await createSite(api.app, owner.token);
    invalidations.messages.length = 0;
    const res = await call(api.app, 'PATCH', `/api/v1/sites/${site.site_key}`, {
      token: owner.token,
      body: {
        name: 'Renamed',
        domain: 'New-Domain.example.com',
        timezone: 'america/new_york',
        public_stats: true,
        currency: 'eur',
        settings: {
          excluded_ips: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32'],
          excluded_paths: ['/admin/**', '/preview/*'],
          excluded_countries: ['cn', 'RU'],
          allowed_hostnames: ['example.com', '*.Example.com'],
        },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      ...SITE_SHAPE,
      id: site.id,
      site_key: site.site_key,
      name: 'Renamed',
      domain: 'new-domain.example.com',
      timezone: 'America/New_York',
      public_stats: true,
      currency: 'EUR',
      settings: {
        excluded_ips: ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32'],
        excluded_paths: ['/admin/**', '/preview/*'],
        excluded_countries: ['CN', 'RU'],
        allowed_hostnames: ['example.com', '*.example.com'],
      },
    });
    await invalidations.heard(site.site_key, 'the invalidation');

    const merged = await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, {
      token: owner.token,
      body: { settings: { excluded_countries: [] } },
    });
    expect(merged.body.data.settings).toEqual({ ...res.body.data.settings, excluded_countries: [] });
    expect(merged.body.data.name).toBe('Renamed');

    const taken = await createSite(api.app, owner.token);
    const conflict = await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, {
      token: owner.token,
      body: { domain: taken.domain },
    });
    expectError(conflict, 409, 'conflict');
  });

  it('refuses bad input on create and update with 422 per field, writing nothing', async () => {
    const site = await createSite(api.app, owner.token);
    const before = await tableCounts(api.pool);
    const { rows: siteBefore } = await api.pool.query('SELECT * FROM sites WHERE id = $1', [site.id]);
    const cases: [Record<string, unknown>, string[]][] = [
      [{ domain: 'https://example.com' }, ['domain']],
      [{ domain: 'example.com/blog' }, ['domain']],
      [{ domain: 'example.com:8080' }, ['domain']],
      [{ domain: 'exa_mple.com' }, ['domain']],
      [{ domain: "x.com'; DROP TABLE sites; --" }, ['domain']],
      [{ domain: 'x.com\r\nX-Injected: 1' }, ['domain']],
      [{ domain: 'a'.repeat(300) + '.com' }, ['domain']],
      [{ domain: 42 }, ['domain']],
      [{ name: '' }, ['name']],
      [{ name: 'x'.repeat(10_000) }, ['name']],
      [{ name: 'Evil\r\nSet-Cookie: a=b' }, ['name']],
      [{ name: ['array'] }, ['name']],
      [{ timezone: 'Mars/Olympus_Mons' }, ['timezone']],
      [{ timezone: '+05:00' }, ['timezone']],
      [{ timezone: "UTC'; --" }, ['timezone']],
      [{ currency: 'XXQ' }, ['currency']],
      [{ currency: 'dollars' }, ['currency']],
      [{ public_stats: 'yes' }, ['public_stats']],
      [{ settings: { excluded_ips: ['10.0.0.0/33'] } }, ['settings.excluded_ips.0']],
      [
        { settings: { excluded_ips: ['not-an-ip', '1.2.3'] } },
        ['settings.excluded_ips.0', 'settings.excluded_ips.1'],
      ],
      [{ settings: { excluded_paths: ['admin/*'] } }, ['settings.excluded_paths.0']],
      [{ settings: { excluded_paths: ['/[unclosed'] } }, ['settings.excluded_paths.0']],
      [{ settings: { excluded_countries: ['USA'] } }, ['settings.excluded_countries.0']],
      [{ settings: { excluded_countries: ['ZZ'] } }, ['settings.excluded_countries.0']],
      [{ settings: { allowed_hostnames: ['http://x.com'] } }, ['settings.allowed_hostnames.0']],
      [
        { settings: { excluded_ips: Array.from({ length: 101 }, (_, i) => `10.0.0.${i % 250}`) } },
        ['settings.excluded_ips'],
      ],
      [{ settings: { excluded_ips: '10.0.0.1' } }, ['settings.excluded_ips']],
      [{ settings: { unknown_list: [] } }, ['settings.unknown_list']],
      [{ site_key: 'sk_mychoiceofkey1234' }, ['site_key']],
      [{ id: site.id }, ['id']],
    ];
    for (const [fields, paths] of cases) {
      const create = await call(api.app, 'POST', '/api/v1/sites', {
        token: owner.token,
        body: { domain: 'valid.example.com', name: 'Valid', ...fields },
      });
      const createDetails = expectError(create, 422, 'validation_failed').details!;
      expect(Object.keys(createDetails).sort(), JSON.stringify(fields)).toEqual(paths);
      const update = await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, {
        token: owner.token,
        body: fields,
      });
      expect(Object.keys(expectError(update, 422, 'validation_failed').details!).sort()).toEqual(paths);
    }
    const missing = await call(api.app, 'POST', '/api/v1/sites', { token: owner.token, body: {} });
    expect(Object.keys(expectError(missing, 422, 'validation_failed').details!).sort()).toEqual([
      'domain',
      'name',
    ]);
    expectError(
      await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, { token: owner.token, body: {} }),
      422,
      'validation_failed',
    );
    expectError(
      await call(api.app, 'POST', '/api/v1/sites', { token: owner.token, body: '{"domain"' }),
      400,
      'invalid_request',
    );
    expectError(
      await call(api.app, 'PATCH', `/api/v1/sites/${site.id}`, { token: owner.token, body: 'null' }),
      422,
      'validation_failed',
    );
    expectError(
      await call(api.app, 'POST', '/api/v1/sites', { token: owner.token, body: '[]' }),
      422,
      'validation_failed',
    );

    expect(await tableCounts(api.pool)).toEqual(before);
    const { rows: siteAfter } = await api.pool.query('SELECT * FROM sites WHERE id = $1', [site.id]);
    expect(siteAfter).toEqual(siteBefore);
  });

  it('stores an SQL-looking name verbatim, as data', async () => {
    const name = "Robert'); DROP TABLE sites;--";
    const site = await createSite(api.app, owner.token, { name });
    expect(site.name).toBe(name);
    const { rows } = await api.pool.query('SELECT name FROM sites WHERE id = $1', [site.id]);
    expect(rows).toEqual([{ name }]);
  });

  it('counts this month’s events from ClickHouse', async () => {
    const site = await createSite(api.app, owner.token);
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 86_400_000);
    await insertEvents(site.id, [now, now, new Date(now.getTime() - 1000), lastMonth]);
    const res = await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: owner.token });
    expect(res.body.data.events_this_month).toBe(3);
    const list = await call(api.app, 'GET', '/api/v1/sites', { token: owner.token });
    expect(list.body.data.find((s: { id: string }) => s.id === site.id).events_this_month).toBe(3);
  });

  it('deletes the site, its keys and all its analytics data, and publishes an invalidation', async () => {
    const site = await createSite(api.app, owner.token);
    const keep = await createSite(api.app, owner.token);
    await insertEvents(site.id, [new Date(), new Date()]);
    await insertEvents(keep.id, [new Date()]);
    await call(api.app, 'POST', `/api/v1/sites/${site.id}/api-keys`, {
      token: owner.token,
      body: { name: 'k' },
    });
    invalidations.messages.length = 0;

    const res = await call(api.app, 'DELETE', `/api/v1/sites/${site.site_key}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { deleted: true } });
    expectError(
      await call(api.app, 'GET', `/api/v1/sites/${site.id}`, { token: owner.token }),
      404,
      'not_found',
    );
    const { rows } = await api.pool.query(
      `SELECT (SELECT count(*)::int FROM sites WHERE id = $1) AS sites,
              (SELECT count(*)::int FROM site_api_keys WHERE site_id = $1) AS keys`,
      [site.id],
    );
    expect(rows[0]).toEqual({ sites: 0, keys: 0 });
    await invalidations.heard(site.site_key, 'the invalidation');

    const tables = await (
      await api.clickhouse.query({
        query: `SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() AND name = 'site_id'
                  AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree')`,
        format: 'JSONEachRow',
      })
    ).json<{ table: string }>();
    expect(tables.map((t) => t.table)).toContain('events');
    const countIn = async (siteId: string) => {
      let total = 0;
      for (const { table } of tables) {
        const r = await api.clickhouse.query({
          query: `SELECT count() AS n FROM \`${table}\` WHERE site_id = {id:UUID}`,
          query_params: { id: siteId },
          format: 'JSONEachRow',
        });
        total += Number((await r.json<{ n: string }>())[0]!.n);
      }
      return total;
    };
    await waitFor(async () => ((await countIn(site.id)) === 0 ? true : undefined), {
      message: 'the deleted site’s rows to go',
    });
    expect(await countIn(keep.id)).toBeGreaterThan(0);
  });
});

describe('sites without ClickHouse', () => {
  let down: TestApi;
  beforeAll(async () => {
    down = await startApi({ CLICKHOUSE_URL: 'http://127.0.0.1:9' });
  });
  afterAll(async () => down?.close());

  it('answers sites with events_this_month null instead of failing, and counts the failure', async () => {
    const user = await signup(down.app);
    const site = await createSite(down.app, user.token);
    const one = await call(down.app, 'GET', `/api/v1/sites/${site.id}`, { token: user.token });
    expect(one.status).toBe(200);
    expect(one.body.data.events_this_month).toBeNull();
    const list = await call(down.app, 'GET', '/api/v1/sites', { token: user.token });
    expect(list.body.data[0].events_this_month).toBeNull();
    const account = await call(down.app, 'GET', '/api/v1/account', { token: user.token });
    expect(account.body.data.usage).toEqual({ sites: 1, events_this_month: null });
    expect(await down.registry.getSingleMetricAsString('tidemark_api_clickhouse_failures_total')).toMatch(
      /operation="events_this_month".*} [1-9]/,
    );
    const ready = await call(down.app, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.clickhouse).toMatchObject({ ok: false, critical: false });
  });

  it('refuses to delete with 503 and deletes nothing, so the delete can be retried', async () => {
    const user = await signup(down.app);
    const site = await createSite(down.app, user.token);
    const before = await tableCounts(down.pool);
    const res = await call(down.app, 'DELETE', `/api/v1/sites/${site.id}`, { token: user.token });
    expectError(res, 503, 'unavailable');
    expect(res.headers['retry-after']).toBe('30');
    expect(await tableCounts(down.pool)).toEqual(before);
    expect((await call(down.app, 'GET', `/api/v1/sites/${site.id}`, { token: user.token })).status).toBe(200);
  });
});
