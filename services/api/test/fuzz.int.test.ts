import { PERMISSIONS } from '@tidemark/auth';
import {
  BREAKDOWN_PROPERTIES,
  COMPARE_MODES,
  FILTER_KEYS,
  INTERVALS,
  METRICS,
  PERIOD_PRESETS,
  PROPERTY_METRICS,
  SERIES_METRICS,
  addDays,
  localDateAt,
  type Property,
} from '@tidemark/stats-query';
import { generateSiteTraffic } from '@tidemark/stats-query/testing';
import { WEBHOOK_EVENT_TYPES } from '@tidemark/webhooks';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshClickHouse } from '../../../test/support/stack';
import {
  call,
  createAccessToken,
  createApiKey,
  createGoal,
  createSite,
  createWebhook,
  invite,
  signup,
  startApi,
  tableCounts,
  type TestApi,
  type TestUser,
  createFunnel,
  SIGNUP_FUNNEL,
} from './helpers';
import { loadEvents } from './stats-fixtures';

/**
 * Property-based pass over the api's public inputs: the JSON bodies of every admin write route and
 * the query strings of every stats endpoint. Whatever arrives, the answer is a 2xx or a documented
 * 4xx in the one error shape; never a 5xx, never an unhandled rejection, and nothing written that
 * the accepted answers do not account for. Fixed seed and bounded runs, so a failure reproduces.
 */
const SEED = 20261125;
const ADMIN_RUNS = 800;
const STATS_RUNS = 500;

/** API.md's error table, plus `invalid_credentials` of its Auth section: code → status. */
const DOCUMENTED_ERRORS: Record<string, number> = {
  invalid_request: 400,
  missing_token: 401,
  invalid_token: 401,
  invalid_credentials: 401,
  insufficient_scope: 403,
  forbidden: 403,
  not_found: 404,
  unknown_site: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  unsupported_query: 422,
  rate_limited: 429,
};

interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** The property's whole oracle for one answer; `what` makes a failure readable. */
function expectDocumented(res: Answer, what: string) {
  const context = `${what}\n→ ${res.statusCode} ${res.body.slice(0, 600)}`;
  expect(res.statusCode, context).toBeLessThan(500);
  if (res.statusCode < 300) return;
  expect(String(res.headers['content-type']), context).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { error?: Record<string, unknown> };
  expect(Object.keys(body), context).toEqual(['error']);
  const { code, message, details, ...rest } = body.error!;
  expect(rest, context).toEqual({});
  expect(DOCUMENTED_ERRORS[code as string], context).toBe(res.statusCode);
  expect(typeof message, context).toBe('string');
  if (code === 'validation_failed') expect(details, context).toBeDefined();
  if (details !== undefined) {
    expect(typeof details === 'object' && details !== null && !Array.isArray(details), context).toBe(true);
    for (const messages of Object.values(details as object)) {
      const ok =
        Array.isArray(messages) && messages.length > 0 && messages.every((m) => typeof m === 'string');
      expect(ok, context).toBe(true);
    }
  }
  if (code === 'missing_token' || code === 'invalid_token') {
    expect(String(res.headers['www-authenticate']), context).toMatch(/^Bearer realm="tidemark"/);
  }
}

// ---------------------------------------------------------------------------------------------
// Values: most look like what a client sends, the rest like what an attacker or a bug sends.

const SQL_INJECTION = [
  "' OR 1=1 --",
  "'); DROP TABLE sites; --",
  '1 UNION SELECT password_hash FROM users',
  "\\'; SELECT sleep(3) --",
  '{p0:String}',
  '$1',
  '%27%20OR%201%3D1',
];
const HEADER_INJECTION = [
  'x\r\nSet-Cookie: a=b',
  'a\nLocation: https://evil.example',
  'evil"; filename="x.sh',
  '\r\n\r\n<h1>hi</h1>',
];
const ODD_TEXT = [
  '',
  ' ',
  '\u0000',
  '\u0007bell',
  '\ud800',
  'a\udfff\ud800b',
  'İstanbul',
  'straße',
  '😀',
  '\u202eevil',
  'zero\u200bwidth',
  '\ufeffbom',
  'e\u0301',
  '../../etc/passwd',
  '%00',
  '%',
  '*',
  '**',
  '|',
  '!',
  '\\',
  '"',
  "'",
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'null',
  'NaN',
  '-1',
  '0',
  '1e309',
  '99999999999999999999999',
  '0x1F',
  'true',
  '[]',
  '{}',
];

const loneSurrogates = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('a', '/', ' '),
  ),
  minLength: 1,
  maxLength: 6,
});

/** Text no field takes as is. `huge` adds strings past every field limit (not past the body limit). */
const hostileText = (huge = 3_000) =>
  fc.oneof(
    fc.constantFrom(...SQL_INJECTION, ...HEADER_INJECTION, ...ODD_TEXT),
    fc.string({ unit: 'binary', maxLength: 40 }),
    loneSurrogates,
    fc.constantFrom('a', 'é', '😀', '/').map((c) => c.repeat(huge)),
  );

const hostileNumber = fc.oneof(
  fc.integer(),
  // NaN and ±Infinity become null in JSON, which is hostile too.
  fc.double(),
  fc.constantFrom(-1, 0, -0, 0.5, 2 ** 31, 2 ** 53 + 2, 1e21, Number.MAX_VALUE, Number.MIN_VALUE),
);

const anything: fc.Arbitrary<unknown> = fc.oneof(
  hostileText(),
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(hostileText(200), { maxLength: 4 }),
  fc.dictionary(hostileText(200), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/**
 * Mostly `valid`; otherwise `invalid` (the mistakes a client makes) or anything at all. Valid
 * values must dominate: a body is accepted only when every one of its fields is.
 */
const mostly = (valid: fc.Arbitrary<unknown>, invalid?: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 8, arbitrary: valid }, ...(invalid ? [{ weight: 1, arbitrary: invalid }] : []), {
    weight: 1,
    arbitrary: anything,
  });

/**
 * A query parameter's value: mostly `valid`, sometimes hostile text. Rarer than in bodies: one bad
 * parameter settles a query's answer, and a query has many.
 */
const param = (valid: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof({ weight: 10, arbitrary: valid }, { weight: 1, arbitrary: hostileText() });

const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'id', 'account_id', 'site_id', 'created_at', 'is_admin', ''),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/**
 * A JSON object body: all required fields (each mostly valid) and some optional ones; or one
 * required field left out; or unknown fields added; or no object at all.
 */
function objectBody(
  required: Record<string, fc.Arbitrary<unknown>>,
  optional: Record<string, fc.Arbitrary<unknown>> = {},
): fc.Arbitrary<unknown> {
  const whole = fc
    .tuple(fc.record(required), fc.record(optional, { requiredKeys: [] }))
    .map(([a, b]) => ({ ...a, ...b }) as Record<string, unknown>);
  const keys = Object.keys(required);
  return fc.oneof(
    { weight: 12, arbitrary: whole },
    ...(keys.length
      ? [
          {
            weight: 1,
            arbitrary: fc.tuple(whole, fc.constantFrom(...keys)).map(([body, key]) => {
              const { [key]: _dropped, ...rest } = body;
              return rest;
            }),
          },
        ]
      : []),
    {
      weight: 1,
      arbitrary: fc
        .tuple(whole, fc.dictionary(hostileKey, anything, { minKeys: 1, maxKeys: 2 }))
        .map(([body, extra]) => ({ ...body, ...extra })),
    },
    { weight: 1, arbitrary: anything },
  );
}

const label = mostly(
  fc.oneof(
    fc.constantFrom('Marketing site', 'Ünïcödé 😀', '  padded  ', 'x'.repeat(100)),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }),
  ),
  hostileText(),
);

const email = (known: string[]) =>
  mostly(
    fc.oneof(
      fc.uuid().map((u) => `fuzz-${u.slice(0, 13)}@example.com`),
      fc.constantFrom(...known),
      fc.uuid().map((u) => ` FUZZ-${u.slice(0, 8)}@Example.COM `),
    ),
    fc.oneof(
      fc.constantFrom('not-an-email', 'a@b', '@example.com', 'a@@b.com', `${'a'.repeat(250)}@x.com`),
      fc.emailAddress(),
      hostileText(),
    ),
  );

const futureInstant = mostly(
  fc.constantFrom('2030-01-01T00:00:00Z', '2099-12-31T23:59:59.999+14:00', '9999-12-31T23:59:59Z', null),
  // Past, or not the documented form.
  fc.oneof(
    fc.constantFrom(
      '2001-01-01T00:00:00Z',
      '2030-01-01',
      'tomorrow',
      '2030-13-01T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '',
    ),
    hostileNumber,
  ),
);

const pagePath = mostly(
  fc.constantFrom('/pricing', '/blog/*', '/', '/docs/50%_off'),
  fc.oneof(
    fc.constantFrom('/a*b', 'no-slash', '/a b', '/x\u0000', `/${'p'.repeat(2_048)}`),
    loneSurrogates.map((s) => `/${s}`),
    hostileText(),
  ),
);

const timezone = mostly(
  fc.constantFrom(
    'UTC',
    'Europe/Paris',
    'europe/paris',
    'Asia/Kathmandu',
    'America/Port-au-Prince',
    'Etc/GMT+5',
    'Asia/Kolkata',
    'US/Eastern',
    'Pacific/Kiritimati',
  ),
  fc.oneof(fc.constantFrom('+05:00', 'Mars/Olympus_Mons', 'Europe/', 'a'.repeat(65)), hostileText()),
);

/** A settings list: mostly valid entries; or a bad entry among them; or too many. */
const settingsList = (valid: fc.Arbitrary<string>, invalid: fc.Arbitrary<string>) =>
  mostly(
    fc.array(valid, { maxLength: 4 }),
    fc.oneof(
      fc.array(fc.oneof(valid, invalid), { minLength: 1, maxLength: 4 }),
      fc.array(valid, { minLength: 101, maxLength: 101 }),
    ),
  );

const siteSettings = fc.record(
  {
    excluded_ips: settingsList(
      fc.oneof(fc.constantFrom('10.0.0.0/8', '2001:db8::/32', '203.0.113.7'), fc.ipV4(), fc.ipV6()),
      fc.constantFrom('999.1.1.1', '10.1', '::1/129', '0x7f.1', 'fe80::1%eth0'),
    ),
    excluded_paths: settingsList(
      fc.constantFrom('/admin/**', '/blog/*', '/{a,b}', '/'),
      fc.constantFrom('no-slash', '/[a', '/a b', '/\ud800'),
    ),
    excluded_countries: settingsList(fc.constantFrom('US', 'de', 'NP'), fc.constantFrom('XX', 'USA', '')),
    allowed_hostnames: settingsList(
      fc.constantFrom('*.example.com', 'example.com', 'EXAMPLE.com'),
      fc.constantFrom('*.', 'a..b', 'https://x.com'),
    ),
  },
  { requiredKeys: [] },
);

const domain = mostly(
  fc.oneof(fc.domain(), fc.constantFrom('Example.COM', 'xn--bcher-kva.example')),
  fc.oneof(fc.constantFrom('https://x.com/path', 'x.com:8080', '-x.com', 'a..b', ''), hostileText()),
);

const currency = mostly(fc.constantFrom('USD', 'eur', 'JPY'), fc.constantFrom('US', 'USDT', 'ZZZ'));

const webhookUrl = mostly(
  fc.oneof(
    fc.constantFrom(
      'https://hooks.example.com/tidemark',
      'HTTPS://Hooks.Example.COM/a?b=c#d',
      'https://例え.jp/パス',
    ),
    fc.webUrl({ validSchemes: ['https', 'http'] }),
  ),
  fc.oneof(
    fc.constantFrom(
      'http://127.0.0.1:9/x',
      'http://[::ffff:169.254.169.254]/',
      'https://user:pw@hooks.example.com/',
      'ftp://hooks.example.com/',
      'hooks.example.com/no-scheme',
    ),
    // Under the length limit as sent, far over it once percent-encoded.
    fc.constantFrom('é', ' ', '"', '\u0001').map((c) => `https://hooks.example.com/${c.repeat(1_900)}`),
    hostileText(),
  ),
);

const windowMinutes = mostly(fc.integer({ min: 1, max: 43_200 }), fc.constantFrom(0, 43_201, 1.5, -1));

// ---------------------------------------------------------------------------------------------

type CountedTable =
  | 'users'
  | 'accounts'
  | 'sites'
  | 'site_api_keys'
  | 'account_tokens'
  | 'team'
  | 'goals'
  | 'funnels'
  | 'alerts'
  | 'webhook_subscriptions'
  | 'webhook_deliveries';

async function countRows(api: TestApi): Promise<Record<CountedTable, number>> {
  const all = await tableCounts(api.pool);
  const { rows } = await api.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM funnels WHERE deleted_at IS NULL',
  );
  return {
    users: all.users!,
    accounts: all.accounts!,
    sites: all.sites!,
    site_api_keys: all.site_api_keys!,
    account_tokens: all.account_tokens!,
    // An invite becomes a membership when its email signs up: count them together.
    team: all.site_invites! + all.site_members!,
    goals: all.goals!,
    funnels: rows[0]!.n,
    alerts: all.alerts!,
    webhook_subscriptions: all.webhook_subscriptions!,
    webhook_deliveries: all.webhook_deliveries!,
  };
}

/** How a body travels: as JSON (mostly), under another content type, or as raw bytes. */
type Payload =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string }
  | { kind: 'raw'; text: string; contentType: string };

const RAW_BODIES = [
  '',
  '{',
  'null',
  '"text"',
  '{"a":1,}',
  "{'a':1}",
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '\ufeff{}',
  '{"name":"\\ud800"}',
  '{"window_minutes":1e400,"cooldown_minutes":-1e400}',
  `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
  `{"name":"${'x'.repeat(70_000)}"}`,
];

const payloadOf = (body: fc.Arbitrary<unknown>): fc.Arbitrary<Payload> =>
  fc.oneof(
    {
      weight: 16,
      arbitrary: body.map((value): Payload => ({ kind: 'json', value, contentType: 'application/json' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          body,
          fc.constantFrom(
            'application/json; charset=utf-8',
            'APPLICATION/JSON',
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/json; charset=latin1',
            '',
          ),
        )
        .map(([value, contentType]): Payload => ({ kind: 'json', value, contentType })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...RAW_BODIES), fc.constantFrom('application/json', 'text/plain'))
        .map(([text, contentType]): Payload => ({ kind: 'raw', text, contentType })),
    },
    { weight: 1, arbitrary: fc.constant<Payload>({ kind: 'none' }) },
  );

/**
 * `encodeURIComponent`, except that an unpaired surrogate (which it refuses) becomes the bytes a
 * careless encoder sends for it: not UTF-8, which the server must survive too.
 */
const encodeLoosely = (text: string) =>
  text
    .split(/(\p{Cs})/u)
    .map((part) =>
      /^\p{Cs}$/u.test(part)
        ? [
            0xe0 | (part.charCodeAt(0) >> 12),
            0x80 | ((part.charCodeAt(0) >> 6) & 0x3f),
            0x80 | (part.charCodeAt(0) & 0x3f),
          ]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join('')
        : encodeURIComponent(part),
    )
    .join('');

/** A path segment: a name resolved when the request is made (state moves on), or a hostile one. */
const segment = (...names: string[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...names.map((n) => `<${n}>`)) },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom('..', '%2e%2e', 'sk_', 'null', '%00', 'A'.repeat(120)),
        hostileText(300).map(encodeLoosely),
      ),
    },
  );

interface WriteRoute {
  name: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `<name>` segments are resolved against the fixtures when the request is made. */
  path: fc.Arbitrary<string>;
  body: fc.Arbitrary<Payload>;
  /** Rows a 2xx answer adds (or removes), per table. */
  writes?: Partial<Record<CountedTable, number>>;
}

const PRINCIPALS = ['owner', 'member', 'viewer', 'scoped', 'apikey', 'none', 'garbage'] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

const principal = fc.oneof(
  { weight: 12, arbitrary: fc.constant<PrincipalName>('owner') },
  { weight: 1, arbitrary: fc.constantFrom<PrincipalName>(...PRINCIPALS) },
);

const GARBAGE_AUTH = [
  'Bearer',
  'Bearer ',
  'Basic dXNlcjpwYXNz',
  'Bearer tma_000000000000_0000000000000000000000000000000000',
  'Bearer tmk_zzzzzzzzzzzz_x',
  'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  'Bearer a b',
  `Bearer ${'x'.repeat(5_000)}`,
  "Bearer ' OR 1=1 --",
];

describe('fuzzing the api', () => {
  let api: TestApi;
  let owner: TestUser;
  let member: TestUser;
  let viewer: TestUser;
  let stranger: TestUser;
  let site: { id: string; site_key: string };
  let strangerSite: { id: string };
  let scopedToken: string;
  let apiKeyToken: string;
  const ids: Record<string, string> = {};
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    const ch = await freshClickHouse();
    api = await startApi({ CLICKHOUSE_DATABASE: ch.database });
    owner = await signup(api.app);
    member = await signup(api.app);
    viewer = await signup(api.app);
    stranger = await signup(api.app);
    site = await createSite(api.app, owner.token, { timezone: 'Asia/Kathmandu' });
    strangerSite = await createSite(api.app, stranger.token);
    await invite(api.app, owner.token, site.id, member.email, 'member');
    await invite(api.app, owner.token, site.id, viewer.email, 'viewer');
    await createGoal(api.app, owner.token, site.id, { name: 'Signup', event_name: 'signup' });
    await createGoal(api.app, owner.token, site.id, { name: 'Blog', page_path: '/blog/*' });
    scopedToken = (
      await createAccessToken(api.app, owner.token, {
        permissions: ['stats:read', 'goals:write', 'sites:read'],
        site_ids: [site.id],
      })
    ).token;
    apiKeyToken = (await createApiKey(api.app, owner.token, site.id)).token;
    ids.rollable = (await createApiKey(api.app, owner.token, site.id, { name: 'rolled by the fuzz' })).id;
    ids.funnel = (await createFunnel(api.app, owner.token, site.id, SIGNUP_FUNNEL)).id;
    const alert = await call(api.app, 'POST', `/api/v1/sites/${site.id}/alerts`, {
      token: owner.token,
      body: {
        name: 'Spike',
        trigger: { metric: 'visitors', window_minutes: 60, op: 'gt', value: 100 },
        template: { subject: 'Spike on {{site_domain}}', message: 'Look.' },
      },
    });
    expect(alert.status).toBe(201);
    ids.alert = alert.body.data.id;
    ids.webhook = (await createWebhook(api.app, owner.token, site.id)).id;
    const test = await call(api.app, 'POST', `/api/v1/sites/${site.id}/webhooks/${ids.webhook}/test`, {
      token: owner.token,
    });
    expect(test.status).toBe(202);
    ids.delivery = test.body.data.id;
    const now = Date.now();
    await loadEvents(
      api.clickhouse,
      generateSiteTraffic({
        siteId: site.id,
        from: new Date(now - 12 * 86_400_000),
        to: new Date(now),
        seed: 11,
        visitsPerDay: 15,
        visitors: 80,
      }),
      2,
    );
  });

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await api?.close();
  });

  const authorization = (who: PrincipalName, garbage: string): Record<string, string> => {
    const token = {
      owner: owner.token,
      member: member.token,
      viewer: viewer.token,
      scoped: scopedToken,
      apikey: apiKeyToken,
      none: undefined,
      garbage: undefined,
    }[who];
    if (who === 'garbage') return { authorization: garbage };
    return token ? { authorization: `Bearer ${token}` } : {};
  };

  /** `<name>` → the fixture it names, now (a roll moves `rollable` on, for one). */
  const resolvePath = (path: string) =>
    path.replace(/<([a-z]+)>/g, (_, name: string) => {
      const value = {
        site: site.id,
        sitekey: site.site_key,
        strangersite: strangerSite.id,
        ...ids,
      }[name];
      if (!value) throw new Error(`no fixture named ${name}`);
      return value;
    });

  const expectNoRejection = async () => {
    // Rejections are reported once the microtask queue drains: let it, then look.
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejections, 'unhandled rejections').toEqual([]);
  };

  it('answers arbitrary bodies on every admin write route with a 2xx or a documented 4xx', async () => {
    const knownEmails = [owner.email, member.email, viewer.email, stranger.email];
    const siteRef = fc.oneof(
      { weight: 10, arbitrary: fc.constant('<site>') },
      { weight: 1, arbitrary: fc.constantFrom('<sitekey>', '<strangersite>') },
      { weight: 1, arbitrary: segment('site') },
    );
    const under = (tail: fc.Arbitrary<string>) =>
      fc.tuple(siteRef, tail).map(([s, t]) => `/api/v1/sites/${s}${t}`);
    const goalName = mostly(fc.constantFrom('Signup', 'Blog'), fc.oneof(fc.constant('No such goal'), label));
    // Objects nested in a body (funnel steps, alert triggers and templates) are mostly whole and
    // valid: their chances of a refusal multiply with the body's, and bodies must reach the database.
    const funnelStep = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.oneof(
          fc.record({
            name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('Pricing', 'Read the blog') }, label),
            type: fc.constant('pageview'),
            url: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('/pricing', '/blog/*') }, pagePath),
          }),
          fc.record({
            name: fc.oneof({ weight: 4, arbitrary: fc.constant('Signed up') }, label),
            type: fc.constant('goal'),
            goal_name: goalName,
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: objectBody(
          { name: label, type: mostly(fc.constantFrom('pageview', 'goal'), fc.constant('event')) },
          { url: pagePath, goal_name: goalName },
        ),
      },
    );
    const steps = mostly(
      fc.array(funnelStep, { minLength: 2, maxLength: 8 }),
      fc.oneof(fc.array(funnelStep, { maxLength: 1 }), fc.array(funnelStep, { minLength: 9, maxLength: 10 })),
    );
    const threshold = {
      metric: mostly(fc.constantFrom('visitors', 'pageviews', 'events'), fc.constant('bounce_rate')),
      window_minutes: windowMinutes,
      op: mostly(fc.constantFrom('gt', 'lt'), fc.constant('eq')),
      value: mostly(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.constantFrom(-1, 1e13)),
    };
    const trigger = fc.oneof(
      { weight: 2, arbitrary: fc.record({ goal_name: fc.constantFrom('Signup', 'Blog') }) },
      {
        weight: 2,
        arbitrary: fc.record({
          metric: fc.constantFrom('visitors', 'pageviews', 'events'),
          window_minutes: fc.integer({ min: 1, max: 43_200 }),
          op: fc.constantFrom('gt', 'lt'),
          value: fc.double({ min: 0, max: 1e12, noNaN: true }),
        }),
      },
      { weight: 1, arbitrary: objectBody({ goal_name: goalName }) },
      { weight: 1, arbitrary: objectBody(threshold) },
      { weight: 1, arbitrary: anything },
    );
    const message = mostly(
      fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('line\r\nbreak\ttab', '{{value}}')),
      hostileText(6_000),
    );
    const template = fc.oneof(
      { weight: 4, arbitrary: fc.record({ subject: fc.constant('{{alert_name}} fired'), message }) },
      { weight: 1, arbitrary: objectBody({ subject: label, message }) },
      { weight: 1, arbitrary: anything },
    );
    const alertFields = {
      is_enabled: mostly(fc.boolean()),
      cooldown_minutes: mostly(fc.integer({ min: 0, max: 43_200 }), fc.constantFrom(-1, 1e9)),
    };
    const webhookFields = {
      events: mostly(
        fc.oneof(fc.subarray([...WEBHOOK_EVENT_TYPES], { minLength: 1 }), fc.constant(['event', 'event'])),
        fc.constantFrom([], ['pageview', 'bogus'], Array(11).fill('event')),
      ),
      description: fc.oneof(label, fc.constant(null)),
      is_enabled: mostly(fc.boolean()),
    };
    const emptyOrNot = payloadOf(fc.oneof(fc.constant({}), anything));
    const routes: WriteRoute[] = [
      {
        name: 'signup',
        method: 'POST',
        path: fc.constant('/api/v1/auth/signup'),
        body: payloadOf(
          objectBody(
            {
              email: email(knownEmails),
              password: mostly(
                fc.oneof(fc.constant('a long enough password'), fc.string({ minLength: 10, maxLength: 40 })),
                fc.oneof(fc.constantFrom('short', 'x'.repeat(1_025)), hostileText()),
              ),
            },
            { name: label },
          ),
        ),
        writes: { users: 1, accounts: 1 },
      },
      {
        name: 'login',
        method: 'POST',
        path: fc.constant('/api/v1/auth/login'),
        body: payloadOf(
          fc.oneof(
            objectBody({
              email: fc.constantFrom(owner.email, owner.email.toUpperCase()),
              password: fc.constantFrom(owner.password, 'wrong password'),
            }),
            objectBody({
              email: email(knownEmails),
              password: mostly(fc.constantFrom(owner.password, 'wrong password'), hostileText()),
            }),
          ),
        ),
      },
      {
        name: 'account',
        method: 'PUT',
        path: fc.constant('/api/v1/account'),
        body: payloadOf(objectBody({ name: label })),
      },
      {
        name: 'access token',
        method: 'POST',
        path: fc.constant('/api/v1/access-tokens'),
        body: payloadOf(
          objectBody(
            {
              name: label,
              permissions: mostly(
                fc.subarray([...PERMISSIONS], { minLength: 1 }),
                fc.constantFrom([], ['admin'], ['stats:write'], Array(51).fill('stats:read')),
              ),
            },
            {
              site_ids: mostly(
                fc.constantFrom([site.id], null),
                fc.oneof(fc.constant([strangerSite.id]), fc.array(fc.uuid(), { maxLength: 2 })),
              ),
              expires_at: futureInstant,
            },
          ),
        ),
        writes: { account_tokens: 1 },
      },
      {
        name: 'create site',
        method: 'POST',
        path: fc.constant('/api/v1/sites'),
        body: payloadOf(
          objectBody(
            { domain, name: label },
            {
              timezone,
              public_stats: mostly(fc.boolean()),
              currency,
              settings: mostly(siteSettings),
            },
          ),
        ),
        writes: { sites: 1 },
      },
      {
        name: 'update site',
        method: 'PATCH',
        path: siteRef.map((s) => `/api/v1/sites/${s}`),
        body: payloadOf(
          objectBody(
            {},
            {
              domain,
              name: label,
              timezone,
              public_stats: mostly(fc.boolean()),
              currency,
              settings: mostly(siteSettings),
            },
          ),
        ),
      },
      {
        name: 'create API key',
        method: 'POST',
        path: under(fc.constant('/api-keys')),
        body: payloadOf(objectBody({ name: label }, { expires_at: futureInstant })),
        writes: { site_api_keys: 1 },
      },
      {
        name: 'roll API key',
        method: 'POST',
        path: under(segment('rollable').map((id) => `/api-keys/${id}/roll`)),
        body: emptyOrNot,
        writes: { site_api_keys: 1 },
      },
      {
        name: 'invite',
        method: 'POST',
        path: under(fc.constant('/team')),
        body: payloadOf(
          objectBody({
            email: email(knownEmails),
            role: mostly(fc.constantFrom('member', 'viewer'), fc.constantFrom('owner', 'admin')),
          }),
        ),
        writes: { team: 1 },
      },
      {
        name: 'remove from team',
        method: 'DELETE',
        path: under(fc.constant('/team')),
        body: payloadOf(objectBody({ email: email([...knownEmails, 'fuzz-invited@example.com']) })),
        writes: { team: -1 },
      },
      {
        name: 'create goal',
        method: 'POST',
        path: under(fc.constant('/goals')),
        body: payloadOf(
          fc.oneof(
            objectBody({ name: label, event_name: label }),
            objectBody({ name: label, page_path: pagePath }),
            objectBody({ name: label }, { event_name: label, page_path: pagePath }),
          ),
        ),
        writes: { goals: 1 },
      },
      {
        name: 'create funnel',
        method: 'POST',
        path: under(fc.constant('/funnels')),
        body: payloadOf(objectBody({ name: label, steps }, { window_minutes: windowMinutes })),
        writes: { funnels: 1 },
      },
      {
        name: 'update funnel',
        method: 'PUT',
        path: under(segment('funnel').map((id) => `/funnels/${id}`)),
        body: payloadOf(objectBody({}, { name: label, steps, window_minutes: windowMinutes })),
      },
      {
        name: 'create alert',
        method: 'POST',
        path: under(fc.constant('/alerts')),
        body: payloadOf(objectBody({ name: label, trigger, template }, alertFields)),
        writes: { alerts: 1 },
      },
      {
        name: 'update alert',
        method: 'PUT',
        path: under(segment('alert').map((id) => `/alerts/${id}`)),
        body: payloadOf(objectBody({}, { name: label, trigger, template, ...alertFields })),
      },
      {
        name: 'create webhook',
        method: 'POST',
        path: under(fc.constant('/webhooks')),
        body: payloadOf(objectBody({ url: webhookUrl, events: webhookFields.events }, webhookFields)),
        writes: { webhook_subscriptions: 1 },
      },
      {
        name: 'update webhook',
        method: 'PUT',
        path: under(segment('webhook').map((id) => `/webhooks/${id}`)),
        body: payloadOf(objectBody({}, { url: webhookUrl, ...webhookFields })),
      },
      {
        name: 'test webhook',
        method: 'POST',
        path: under(segment('webhook').map((id) => `/webhooks/${id}/test`)),
        body: emptyOrNot,
        writes: { webhook_deliveries: 1 },
      },
      {
        name: 'redeliver',
        method: 'POST',
        path: under(
          fc
            .tuple(segment('webhook'), segment('delivery'))
            .map(([id, delivery]) => `/webhooks/${id}/deliveries/${delivery}/redeliver`),
        ),
        body: emptyOrNot,
      },
    ];

    const before = await countRows(api);
    const expected = { ...before };
    const accepted = new Map(routes.map((r) => [r.name, 0]));

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          ...routes.map((route) =>
            fc.record({
              route: fc.constant(route.name),
              path: route.path,
              payload: route.body,
              who: principal,
              garbage: fc.constantFrom(...GARBAGE_AUTH),
            }),
          ),
        ),
        async ({ route: name, path, payload, who, garbage }) => {
          const route = routes.find((r) => r.name === name)!;
          const url = resolvePath(path);
          const res = await api.app.inject({
            method: route.method,
            url,
            headers: {
              ...authorization(who, garbage),
              ...(payload.kind !== 'none' && payload.contentType
                ? { 'content-type': payload.contentType }
                : {}),
            },
            ...(payload.kind === 'json' ? { payload: JSON.stringify(payload.value) ?? '' } : {}),
            ...(payload.kind === 'raw' ? { payload: payload.text } : {}),
          });
          expectDocumented(res, `${route.method} ${url} as ${who}`);
          if (res.statusCode < 300) {
            accepted.set(route.name, accepted.get(route.name)! + 1);
            for (const [table, n] of Object.entries(route.writes ?? {})) {
              expected[table as CountedTable] += n;
            }
            // The rolled key is revoked: roll its successor next.
            if (route.name === 'roll API key') ids.rollable = JSON.parse(res.body).data.id;
          }
          await expectNoRejection();
        },
      ),
      { seed: SEED, numRuns: ADMIN_RUNS },
    );

    // Nothing a refusal touched was written, and every acceptance wrote what it says.
    expect(await countRows(api)).toEqual(expected);
    // Every route must also have taken some bodies, or the property says little about it.
    for (const [name, n] of accepted) expect(n, `${name} accepted nothing`).toBeGreaterThan(0);
  });

  it('answers arbitrary query strings on every stats endpoint with a 200 or a documented 4xx', async () => {
    // The admin pass above left goals and funnels of every shape on the site: the stats pass
    // reads them (goal filters and breakdowns, funnel steps), which reaches further than fixtures.
    const { rows: funnels } = await api.pool.query<{ id: string }>(
      'SELECT id FROM funnels WHERE site_id = $1',
      [site.id],
    );
    const { rows: goals } = await api.pool.query<{ name: string }>(
      'SELECT name FROM goals WHERE site_id = $1',
      [site.id],
    );
    const { rows: sites } = await api.pool.query<{ timezone: string }>(
      'SELECT timezone FROM sites WHERE id = $1',
      [site.id],
    );
    const today = localDateAt(sites[0]!.timezone, Date.now());
    const ENDPOINTS = ['aggregate', 'timeseries', 'breakdown', 'realtime', 'funnel', 'heatmap', 'export'];

    const date = fc.oneof(
      { weight: 12, arbitrary: fc.integer({ min: -40, max: 2 }).map((d) => addDays(today, d)) },
      { weight: 3, arbitrary: fc.integer({ min: -4_000, max: 400 }).map((d) => addDays(today, d)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '0001-01-01',
          '9999-12-31',
          '1970-01-01',
          '1900-02-28',
          '2024-02-29',
          '2026-02-29',
          '2026-13-01',
          '2026-1-1',
          '20260101',
          '-001-01-01',
          '2026-01-01T00:00:00Z',
        ),
      },
      { weight: 1, arbitrary: hostileText(50) },
    );
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
    const list = (values: fc.Arbitrary<string>, max = 4) =>
      fc.array(values, { minLength: 1, maxLength: max }).map((v) => v.join('|'));
    const filterValue = (key: string) =>
      param(
        fc.oneof(
          {
            weight: 8,
            arbitrary: list(
              key === 'country'
                ? fc.constantFrom('US', 'de', 'NP', 'GB', 'XX')
                : key === 'goal'
                  ? fc.constantFrom(...goals.map((g) => g.name), 'No such goal')
                  : fc.constantFrom(
                      '/blog/*',
                      '/blog/**',
                      '/',
                      '/pricing',
                      'Google',
                      'Bing',
                      'google.com',
                      'Organic Search',
                      'twitter',
                      'pro',
                      'Berlin',
                      'signup',
                      'Chrome',
                      'Mobile',
                      '*',
                    ),
            ).chain((v) => fc.constantFrom(v, `!${v}`)),
          },
          fc.constantFrom('==Google', 'Google|', '|', '!', 'a||b', Array(101).fill('a').join('|')),
        ),
      );
    const filterKey = fc.oneof(
      { weight: 20, arbitrary: fc.constantFrom(...FILTER_KEYS, 'prop:plan', 'prop:path') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'prop:',
          `prop:${'p'.repeat(301)}`,
          'prop:\u0000',
          'visit:source',
          'event:page',
          'event:props:plan',
          'filters',
          'Country',
        ),
      },
    );
    // Each filter once: a repeated name is one refusal among many (see `rawTail`).
    const filters = fc.uniqueArray(
      filterKey.chain((key) => filterValue(key).map((v): [string, string] => [key, v])),
      { maxLength: 3, selector: ([key]) => key },
    );
    /** Mostly metrics the endpoint (or property) takes, sometimes any metric, sometimes no list. */
    const metricList = (allowed: readonly string[]) =>
      param(
        fc.oneof(
          { weight: 6, arbitrary: fc.subarray([...allowed], { minLength: 1 }).map((m) => m.join(',')) },
          { weight: 1, arbitrary: fc.subarray([...METRICS], { minLength: 1 }).map((m) => m.join(',')) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              '',
              ',',
              'visitors,,pageviews',
              'visitors,visitors',
              'VISITORS',
              ' visitors ',
            ),
          },
        ),
      );
    const wholeNumber = (max: number) =>
      param(
        fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 1, max }).map(String) },
          fc.constantFrom('0', '-1', '1.5', '1e3', 'NaN', ' 5', '0x10', '99999999999999999999', `${max + 1}`),
        ),
      );
    const breakdownParams = fc
      .oneof(
        { weight: 8, arbitrary: fc.constantFrom(...BREAKDOWN_PROPERTIES) },
        { weight: 1, arbitrary: fc.constantFrom('prop:plan', 'visit:source', '') },
      )
      .chain((property) => {
        const allowed: readonly string[] = PROPERTY_METRICS[property as Property] ?? METRICS;
        return fc.record({
          property: param(fc.constant(property)),
          metrics: optional(metricList(allowed)),
          sort: optional(
            param(
              fc
                .tuple(
                  fc.oneof(
                    { weight: 6, arbitrary: fc.constantFrom(...allowed) },
                    fc.constantFrom('value', 'nope'),
                  ),
                  fc.oneof({ weight: 6, arbitrary: fc.constantFrom('asc', 'desc') }, fc.constant('up')),
                )
                .map(([m, d]) => `${m}.${d}`),
            ),
          ),
          limit: optional(wholeNumber(1_000)),
          page_number: optional(wholeNumber(1_000_000)),
          // Region and city breakdowns need one country.
          country:
            property === 'region' || property === 'city'
              ? optional(param(fc.constantFrom('US', 'DE', 'US|DE')))
              : fc.constant(undefined),
        });
      });
    const endpointParams: Record<string, fc.Arbitrary<Record<string, string | undefined>>> = {
      aggregate: fc.record({
        metrics: optional(metricList(SERIES_METRICS)),
        compare: optional(param(fc.constantFrom(...COMPARE_MODES, 'previous'))),
      }),
      timeseries: fc.record({
        metrics: optional(metricList(SERIES_METRICS)),
        interval: optional(param(fc.constantFrom(...INTERVALS, 'minute'))),
      }),
      breakdown: breakdownParams,
      realtime: fc.record({
        minutes: optional(
          param(fc.oneof(fc.integer({ min: -100, max: 100 }).map(String), fc.constant('-0'))),
        ),
      }),
      funnel: fc.record({
        funnel_id: param(
          fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...funnels.map((f) => f.id)) }, fc.uuid()),
        ),
      }),
      heatmap: fc.record({
        page: param(fc.constantFrom('/pricing', '/blog/*', '/', '')),
        type: optional(param(fc.constantFrom('click', 'scroll', 'move'))),
      }),
      export: fc.record({
        format: optional(param(fc.constantFrom('csv', 'ndjson', 'xlsx'))),
        type: optional(param(fc.constantFrom('events', 'daily', 'raw'))),
      }),
    };
    const period = fc.oneof(
      { weight: 4, arbitrary: fc.record({ period: optional(fc.constantFrom(...PERIOD_PRESETS)) }) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(date, date)
          .map(([a, b]) => ({ period: 'custom', from: a < b ? a : b, to: a < b ? b : a })),
      },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            period: param(fc.constantFrom(...PERIOD_PRESETS, '90d', 'custom')),
            from: date,
            to: date,
          },
          { requiredKeys: [] },
        ),
      },
    );
    const siteId = fc.oneof(
      { weight: 8, arbitrary: fc.constant(site.id) },
      { weight: 1, arbitrary: fc.constantFrom(site.site_key, site.id.toUpperCase(), strangerSite.id) },
      { weight: 1, arbitrary: fc.oneof(fc.uuid(), hostileText()) },
    );
    /** What `qs` cannot produce: repeated names, bracket syntax, broken escapes, empty names. */
    const rawTail = fc.constantFrom(
      '&metrics=visitors&metrics=pageviews',
      '&site_id=<site>&site_id=<site>',
      '&metrics[]=visitors',
      '&filters[country]=US',
      '&%zz=1',
      '&period=%E0%A4%A',
      '&=x',
      '&&&',
      '&country',
      '&__proto__=1',
      '&constructor=1',
      '&hasOwnProperty=1',
      '&token=x',
    );
    const encode = (pairs: Array<[string, string]>) =>
      pairs.map(([k, v]) => `${encodeLoosely(k)}=${encodeLoosely(v)}`).join('&');

    const request = fc.constantFrom(...ENDPOINTS).chain((endpoint) =>
      fc.record({
        endpoint: fc.constant(endpoint),
        who: fc.oneof(
          { weight: 10, arbitrary: fc.constant<PrincipalName>('owner') },
          { weight: 3, arbitrary: fc.constant<PrincipalName>('apikey') },
          { weight: 2, arbitrary: fc.constantFrom<PrincipalName>('viewer', 'scoped') },
          { weight: 1, arbitrary: fc.constantFrom<PrincipalName>('member', 'none', 'garbage') },
        ),
        garbage: fc.constantFrom(...GARBAGE_AUTH),
        siteId: optional(siteId),
        period,
        params: endpointParams[endpoint]!,
        filters,
        // Mostly none: each of these alone already settles the answer (400).
        noise: fc.oneof(
          { weight: 8, arbitrary: fc.constant({ extra: [], rawTail: '' }) },
          {
            weight: 1,
            arbitrary: fc.record({
              extra: fc.array(
                fc.tuple(fc.oneof(hostileKey, fc.constantFrom('site', 'limit', 'page')), hostileText(100)),
                { maxLength: 2 },
              ),
              rawTail: fc.oneof(fc.constant(''), rawTail),
            }),
          },
        ),
      }),
    );

    const answered = new Map(ENDPOINTS.map((e) => [e, 0]));
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const pairs: Array<[string, string]> = [];
        const add = (params: Record<string, string | undefined>) => {
          for (const [k, v] of Object.entries(params)) if (v !== undefined) pairs.push([k, v]);
        };
        if (r.siteId !== undefined) pairs.push(['site_id', r.siteId]);
        else if (r.who !== 'apikey') pairs.push(['site_id', site.id]);
        add(r.period);
        add(r.params);
        pairs.push(...r.filters, ...r.noise.extra);
        const url = `/api/v1/stats/${r.endpoint}?${encode(pairs)}${resolvePath(r.noise.rawTail)}`;
        const res = await api.app.inject({ method: 'GET', url, headers: authorization(r.who, r.garbage) });
        const what = `GET ${url} as ${r.who}`;
        expectDocumented(res, what);
        if (r.endpoint === 'realtime') expect(res.headers['cache-control'], what).toBe('no-store');
        if (res.statusCode === 200) {
          answered.set(r.endpoint, answered.get(r.endpoint)! + 1);
          const type = String(res.headers['content-type']);
          if (type.startsWith('application/x-ndjson')) {
            for (const line of res.body.split('\n').filter(Boolean)) JSON.parse(line);
          } else if (!type.startsWith('text/csv')) {
            expect(JSON.parse(res.body), what).toBeTypeOf('object');
          }
        }
        await expectNoRejection();
      }),
      { seed: SEED, numRuns: STATS_RUNS },
    );
    // Valid queries must be among the cases, or the pass only ever met the parser's refusals.
    for (const [endpoint, n] of answered) expect(n, `${endpoint} never answered 200`).toBeGreaterThan(0);
  });
});
