import { ACTIVITY_PAGE_MAX, ALERT_HISTORY_MAX } from '@tidemark/api-schemas';
import { PERMISSIONS, ROLE_PERMISSIONS } from '@tidemark/auth';
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
 * Property-based pass over the api's public inputs: the JSON bodies of every admin write route, the
 * query strings of every stats endpoint, the query strings and path ids of every admin read route,
 * and the path ids of every body-less DELETE. Whatever arrives, the answer is a 2xx or a documented
 * 4xx in the one error shape; never a 5xx, never an unhandled rejection, nothing written that the
 * accepted answers do not account for, and nothing deleted that the caller may not delete. Fixed
 * seed and bounded runs, so a failure reproduces.
 */
const SEED = 20261125;
const ADMIN_RUNS = 800;
const STATS_RUNS = 500;
const READ_RUNS = 1_000;
const DELETE_RUNS = 700;

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

/** A path segment no route takes, already encoded: traversal, NUL, too long, not text at all. */
const oddSegment = fc.oneof(
  fc.constantFrom('..', '%2e%2e', 'sk_', 'null', '%00', 'A'.repeat(120)),
  hostileText(300).map(encodeLoosely),
);

/** A path segment: a name resolved when the request is made (state moves on), or a hostile one. */
const segment = (...names: string[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...names.map((n) => `<${n}>`)) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: oddSegment },
  );

/** `{site}` in a path: mostly the fuzz's site, sometimes its key or another account's, or hostile. */
const siteRef = fc.oneof(
  { weight: 10, arbitrary: fc.constant('<site>') },
  { weight: 1, arbitrary: fc.constantFrom('<sitekey>', '<strangersite>') },
  { weight: 1, arbitrary: segment('site') },
);
const under = (tail: fc.Arbitrary<string>) =>
  fc.tuple(siteRef, tail).map(([s, t]) => `/api/v1/sites/${s}${t}`);

/**
 * An id that names nothing, although it looks like one: a UUID of no row, and (given real ids) the
 * near misses of a real one (encoded for a path unless told otherwise); or an odd segment.
 */
const wrongId = (real: string[] = [], encode: (raw: string) => string = encodeURIComponent) =>
  fc.oneof(
    fc.uuid(),
    fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
    ...(real.length
      ? [
          fc
            .tuple(
              fc.constantFrom(...real),
              fc.constantFrom(
                (id: string) => `${id}0`,
                (id: string) => id.slice(0, -1),
                (id: string) => `{${id}}`,
                (id: string) => id.replace(/-/g, ''),
                (id: string) => ` ${id}`,
                (id: string) => `${id}\u0000`,
                (id: string) => `${id}\u00a0`,
                (id: string) => id.replace(/[0-9a-f]$/, 'g'),
              ),
            )
            .map(([id, miss]) => encode(miss(id))),
        ]
      : []),
    oddSegment,
  );

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** A whole-number query parameter: mostly within 1..max, sometimes just outside, or not a number. */
const wholeNumber = (max: number) =>
  param(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max }).map(String) },
      fc.constantFrom('0', '-1', '1.5', '1e3', 'NaN', ' 5', '0x10', '99999999999999999999', `${max + 1}`),
    ),
  );

const encodeQuery = (pairs: Array<[string, string]>) =>
  pairs.map(([k, v]) => `${encodeLoosely(k)}=${encodeLoosely(v)}`).join('&');

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

/** Mostly none: each of these alone already settles the answer (400). */
const queryNoise = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ extra: [] as Array<[string, string]>, rawTail: '' }) },
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
    ids.alert = await createAlert(owner.token, site.id);
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

  /** A threshold alert on the site (no goal: deleting goals stays free); its id. */
  const createAlert = async (token: string, siteId: string, name = 'Spike'): Promise<string> => {
    const res = await call(api.app, 'POST', `/api/v1/sites/${siteId}/alerts`, {
      token,
      body: {
        name,
        trigger: { metric: 'visitors', window_minutes: 60, op: 'gt', value: 100 },
        template: { subject: 'Spike on {{site_domain}}', message: 'Look.' },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.data.id;
  };

  /** One request as `who` sends it, with `payload` as its body (none by default). */
  const send = (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    who: PrincipalName,
    garbage: string,
    payload: Payload = { kind: 'none' },
  ) =>
    api.app.inject({
      method,
      url,
      headers: {
        ...authorization(who, garbage),
        ...(payload.kind !== 'none' && payload.contentType ? { 'content-type': payload.contentType } : {}),
      },
      ...(payload.kind === 'json' ? { payload: JSON.stringify(payload.value) ?? '' } : {}),
      ...(payload.kind === 'raw' ? { payload: payload.text } : {}),
    });

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
          const res = await send(route.method, url, who, garbage, payload);
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
        noise: queryNoise,
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
        const url = `/api/v1/stats/${r.endpoint}?${encodeQuery(pairs)}${resolvePath(r.noise.rawTail)}`;
        const res = await send('GET', url, r.who, r.garbage);
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

  it('answers arbitrary query strings and path ids on every admin read route with a 2xx or a documented 4xx', async () => {
    // Fixtures the reads need beyond the admin pass's: a public site, another account's alert and
    // webhook (their ids must read as unknown), firings to page through, a cursor to follow.
    ids.publickey = (await createSite(api.app, owner.token, { public_stats: true })).site_key;
    ids.strangeralert = await createAlert(stranger.token, strangerSite.id);
    ids.strangerwebhook = (await createWebhook(api.app, stranger.token, strangerSite.id)).id;
    await api.pool.query(
      `INSERT INTO alert_history (alert_id, site_id, fired_at, value, subject, message, dedupe_key)
       SELECT id, site_id, now() - make_interval(mins => n), n, 'Spike', 'Look.', 'fuzz:' || n
         FROM alerts, generate_series(1, 30) n WHERE id = $1`,
      [ids.alert],
    );
    const { rows: latest } = await api.pool.query<{ id: string }>(
      'SELECT max(id)::text AS id FROM activity_log WHERE account_id = $1',
      [owner.account.id],
    );
    ids.cursor = latest[0]!.id;

    type Query = Record<string, string | undefined>;
    interface ReadRoute {
      name: string;
      path: fc.Arbitrary<string>;
      query?: fc.Arbitrary<Query>;
      /** What a 2xx answer must hold, given the query sent. */
      check?: (body: Record<string, unknown>, query: Query, what: string, who: PrincipalName) => void;
    }
    const activityCursor = fc.oneof(
      { weight: 4, arbitrary: fc.constant('<cursor>') },
      { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 18n - 1n }).map(String) },
      fc.constantFrom('0', '-1', '01', '1.5', '1e3', '9'.repeat(19), '18446744073709551616', ' 1', 'abc'),
    );
    const routes: ReadRoute[] = [
      { name: 'config', path: fc.constant('/api/v1/config') },
      { name: 'account', path: fc.constant('/api/v1/account') },
      { name: 'access tokens', path: fc.constant('/api/v1/access-tokens') },
      { name: 'sites', path: fc.constant('/api/v1/sites') },
      { name: 'site', path: siteRef.map((s) => `/api/v1/sites/${s}`) },
      ...['api-keys', 'team', 'goals', 'funnels', 'alerts', 'webhooks'].map((list) => ({
        name: list,
        path: under(fc.constant(`/${list}`)),
      })),
      {
        name: 'share token',
        path: segment('publickey', 'sitekey', 'site').map((key) => `/api/v1/share/${key}/token`),
      },
      {
        name: 'activity',
        path: fc.constant('/api/v1/activity'),
        query: fc.record({
          limit: optional(wholeNumber(ACTIVITY_PAGE_MAX)),
          before: optional(param(activityCursor)),
        }),
        check: (body, query, what, who) => {
          const { data, meta } = body as {
            data: Array<{ id: string; site_id: string | null }>;
            meta: Record<string, unknown>;
          };
          // A token restricted to some sites sees their entries only.
          if (who === 'scoped') for (const e of data) expect(e.site_id, what).toBe(site.id);
          const limit = query.limit === undefined ? 50 : Number(query.limit);
          expect(meta.limit, what).toBe(limit);
          expect(data.length, what).toBeLessThanOrEqual(limit);
          // Newest first, older than the cursor, and a next cursor only under a full page.
          const order = data.map((e) => BigInt(e.id));
          if (query.before !== undefined) {
            for (const id of order) expect(id < BigInt(query.before), what).toBe(true);
          }
          for (let i = 1; i < order.length; i++) expect(order[i]! < order[i - 1]!, what).toBe(true);
          if (meta.next_before !== null) {
            expect(data.length, what).toBe(limit);
            expect(meta.next_before, what).toBe(data[limit - 1]!.id);
          }
          // Follow the cursor: later cases page on from here.
          if (typeof meta.next_before === 'string') ids.cursor = meta.next_before;
        },
      },
      {
        name: 'alert history',
        path: under(fc.constant('/alerts/history')),
        query: fc.record({
          alert_id: optional(
            param(
              fc.oneof(
                { weight: 4, arbitrary: fc.constant('<alert>') },
                fc.constantFrom('<strangeralert>', ids.alert!.toUpperCase()),
                wrongId([ids.alert!], (raw) => raw),
              ),
            ),
          ),
          limit: optional(wholeNumber(ALERT_HISTORY_MAX)),
        }),
        check: (body, query, what) => {
          const { data } = body as { data: Array<{ alert_id: string }> };
          expect(data.length, what).toBeLessThanOrEqual(query.limit === undefined ? 50 : Number(query.limit));
          if (query.alert_id)
            for (const f of data) expect(f.alert_id, what).toBe(query.alert_id.toLowerCase());
        },
      },
      {
        name: 'deliveries',
        path: under(segment('webhook', 'strangerwebhook').map((id) => `/webhooks/${id}/deliveries`)),
        query: fc.record({
          page_number: optional(
            fc.oneof(
              { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }).map(String) },
              wholeNumber(1_000_000),
            ),
          ),
          limit: optional(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('1', '2') }, wholeNumber(100))),
        }),
        check: (body, query, what) => {
          const { data, pagination: p } = body as {
            data: unknown[];
            pagination: { page_number: number; limit: number; total_rows: number; total_pages: number };
          };
          expect(p.page_number, what).toBe(query.page_number === undefined ? 1 : Number(query.page_number));
          expect(p.limit, what).toBe(query.limit === undefined ? 20 : Number(query.limit));
          expect(p.total_pages, what).toBe(Math.ceil(p.total_rows / p.limit));
          const before = (p.page_number - 1) * p.limit;
          expect(data.length, what).toBe(Math.max(0, Math.min(p.limit, p.total_rows - before)));
        },
      },
    ];

    /** A query value naming a fixture (`<alert>`) is resolved when sent; any other is sent as is. */
    const fixture = (value: string) => (/^<[a-z]+>$/.test(value) ? resolvePath(value) : value);
    const answered = new Map(routes.map((r) => [r.name, 0]));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          ...routes.map((route) =>
            fc.record({
              route: fc.constant(route.name),
              path: route.path,
              query: route.query ?? fc.constant<Query>({}),
              noise: queryNoise,
              who: principal,
              garbage: fc.constantFrom(...GARBAGE_AUTH),
            }),
          ),
        ),
        async ({ route: name, path, query: generated, noise, who, garbage }) => {
          const route = routes.find((r) => r.name === name)!;
          const query: Query = {};
          for (const [k, v] of Object.entries(generated)) if (v !== undefined) query[k] = fixture(v);
          const pairs: Array<[string, string]> = [
            ...(Object.entries(query) as Array<[string, string]>),
            ...noise.extra,
          ];
          const tail = `${encodeQuery(pairs)}${resolvePath(noise.rawTail)}`;
          const url = `${resolvePath(path)}${tail ? `?${tail}` : ''}`;
          const res = await send('GET', url, who, garbage);
          const what = `GET ${url} as ${who}`;
          expectDocumented(res, what);
          if (res.statusCode < 300) {
            answered.set(name, answered.get(name)! + 1);
            route.check?.(JSON.parse(res.body), query, what, who);
          }
          await expectNoRejection();
        },
      ),
      { seed: SEED, numRuns: READ_RUNS },
    );
    for (const [name, n] of answered) expect(n, `${name} never answered 2xx`).toBeGreaterThan(0);
  });

  it('deletes, whatever the path ids, exactly what the caller may delete and nothing else', async () => {
    // What may be deleted, and by whom. Most targets sit on a site of their own (`doomed`) and on
    // spare sites, so that the deletes leave the fixtures of the passes above alone; the main site's
    // own resources and another account's are targets too, addressed from every site.
    type Family = 'site' | 'goal' | 'funnel' | 'alert' | 'webhook' | 'api key' | 'access token';
    interface Target {
      family: Family;
      id: string;
      /** The site it belongs to (a site: itself); none for an access token. */
      site: string | null;
      /** The user whose it is: an access token's, a site's owner. */
      user: string | null;
    }
    const targets: Target[] = [];
    const add = (family: Family, id: string, siteId: string | null, user: string | null = null) =>
      targets.push({ family, id, site: siteId, user });

    const doomed = await createSite(api.app, owner.token);
    const spares = [
      await createSite(api.app, owner.token),
      await createSite(api.app, owner.token),
      await createSite(api.app, owner.token),
    ];
    for (const s of [doomed, ...spares]) {
      await invite(api.app, owner.token, s.id, member.email, 'member');
      await invite(api.app, owner.token, s.id, viewer.email, 'viewer');
    }
    const pageviews = [
      { name: 'Pricing', type: 'pageview', url: '/pricing' },
      { name: 'Docs', type: 'pageview', url: '/docs' },
    ];
    for (let i = 0; i < 12; i++) {
      add(
        'goal',
        (await createGoal(api.app, owner.token, doomed.id, { name: `Doomed ${i}`, event_name: `d${i}` })).id,
        doomed.id,
      );
      add(
        'funnel',
        (await createFunnel(api.app, owner.token, doomed.id, { name: `Doomed ${i}`, steps: pageviews })).id,
        doomed.id,
      );
      add('alert', await createAlert(owner.token, doomed.id, `Doomed ${i}`), doomed.id);
      const hook = await createWebhook(api.app, owner.token, doomed.id);
      const test = await call(api.app, 'POST', `/api/v1/sites/${doomed.id}/webhooks/${hook.id}/test`, {
        token: owner.token,
      });
      expect(test.status).toBe(202);
      add('webhook', hook.id, doomed.id);
      add('api key', (await createApiKey(api.app, owner.token, doomed.id)).id, doomed.id);
      add(
        'access token',
        (await createAccessToken(api.app, owner.token, { permissions: ['stats:read'] })).id,
        null,
        owner.user.id,
      );
    }
    for (const s of spares) {
      add('site', s.id, s.id, owner.user.id);
      // Whatever a site holds goes with it, and is accounted for.
      add(
        'goal',
        (await createGoal(api.app, owner.token, s.id, { name: 'Spare', event_name: 'spare' })).id,
        s.id,
      );
      add('api key', (await createApiKey(api.app, owner.token, s.id)).id, s.id);
    }
    add('site', strangerSite.id, strangerSite.id, stranger.user.id);
    add(
      'goal',
      (await createGoal(api.app, stranger.token, strangerSite.id, { name: 'Theirs', event_name: 'theirs' }))
        .id,
      strangerSite.id,
    );
    add(
      'funnel',
      (await createFunnel(api.app, stranger.token, strangerSite.id, { name: 'Theirs', steps: pageviews })).id,
      strangerSite.id,
    );
    add('alert', await createAlert(stranger.token, strangerSite.id, 'Theirs'), strangerSite.id);
    add('webhook', (await createWebhook(api.app, stranger.token, strangerSite.id)).id, strangerSite.id);
    add('api key', (await createApiKey(api.app, stranger.token, strangerSite.id)).id, strangerSite.id);
    for (const [user, count] of [
      [stranger, 2],
      [member, 2],
    ] as const) {
      for (let i = 0; i < count; i++) {
        add(
          'access token',
          (await createAccessToken(api.app, user.token, { permissions: ['stats:read'] })).id,
          null,
          user.user.id,
        );
      }
    }
    const TABLE_OF: Record<Exclude<Family, 'access token'>, string> = {
      site: 'sites',
      goal: 'goals',
      funnel: 'funnels',
      alert: 'alerts',
      webhook: 'webhook_subscriptions',
      'api key': 'site_api_keys',
    };
    for (const family of ['goal', 'funnel', 'alert', 'webhook', 'api key'] as const) {
      const { rows } = await api.pool.query<{ id: string }>(
        `SELECT id FROM ${TABLE_OF[family]} WHERE site_id = $1${family === 'funnel' ? ' AND deleted_at IS NULL' : ''}`,
        [site.id],
      );
      for (const r of rows) add(family, r.id, site.id);
    }

    // Who may delete what (API.md's role table): the owner anything on its sites; a member the
    // analytics configuration of the sites it is on; the scoped token goals on the main site only.
    const ownSites = new Set([site.id, doomed.id, ...spares.map((s) => s.id)]);
    const userOf: Partial<Record<PrincipalName, string>> = {
      owner: owner.user.id,
      member: member.user.id,
      viewer: viewer.user.id,
    };
    const NEEDED = {
      site: 'sites:write',
      goal: 'goals:write',
      funnel: 'funnels:write',
      alert: 'alerts:write',
      webhook: 'webhooks:write',
      'api key': 'api-keys:write',
    } as const;
    const mayDelete = (who: PrincipalName, t: Target) => {
      if (t.family === 'access token') return userOf[who] !== undefined && userOf[who] === t.user;
      if (!ownSites.has(t.site!)) return false;
      const needed = NEEDED[t.family];
      if (who === 'owner') return true;
      if (t.family === 'site') return false;
      if (who === 'member' || who === 'viewer') return ROLE_PERMISSIONS[who].has(needed);
      return who === 'scoped' && t.site === site.id && needed === 'goals:write';
    };

    const alive = new Set(targets.map((t) => t.id));
    const { rows: revokedRows } = await api.pool.query<{ id: string }>(
      'SELECT id FROM site_api_keys WHERE revoked_at IS NOT NULL',
    );
    const revoked = new Set(revokedRows.map((r) => r.id));
    const of = (family: Family) => targets.filter((t) => t.family === family);
    const sitesById = new Map<string, string>([
      [doomed.id, doomed.id],
      [doomed.site_key, doomed.id],
      [doomed.id.toUpperCase(), doomed.id],
      [site.id, site.id],
      [site.site_key, site.id],
      [strangerSite.id, strangerSite.id],
      ...spares.flatMap((s): Array<[string, string]> => [
        [s.id, s.id],
        [s.site_key, s.id],
      ]),
    ]);
    const ownerOfSite = fc.oneof(
      { weight: 6, arbitrary: fc.constant(doomed.id) },
      fc.constantFrom(doomed.site_key, doomed.id.toUpperCase(), site.id, strangerSite.id, spares[0]!.id),
      wrongId([doomed.id]),
    );
    /** Mostly ids of the family on `doomed`; then another site's; then ids that name nothing. */
    const idOf = (family: Family) => {
      const all = of(family).map((t) => t.id);
      const home = of(family)
        .filter((t) => (family === 'access token' ? t.user === owner.user.id : t.site === doomed.id))
        .map((t) => t.id);
      const elsewhere = all.filter((id) => !home.includes(id));
      return fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...home) },
        { weight: 2, arbitrary: fc.constantFrom(...elsewhere) },
        // Case does not matter to a UUID (it is the same row), but does to a token id (12 hex digits).
        { weight: 1, arbitrary: fc.constantFrom(...home).map((id) => id.toUpperCase()) },
        { weight: 1, arbitrary: wrongId(home) },
      );
    };
    const FAMILY_PATH: Record<Exclude<Family, 'site' | 'access token'>, string> = {
      goal: 'goals',
      funnel: 'funnels',
      alert: 'alerts',
      webhook: 'webhooks',
      'api key': 'api-keys',
    };
    const request = fc
      .constantFrom<Family>('site', 'goal', 'funnel', 'alert', 'webhook', 'api key', 'access token')
      .chain((family) =>
        fc.record({
          family: fc.constant(family),
          siteRef:
            family === 'site'
              ? fc.oneof(
                  { weight: 6, arbitrary: fc.constantFrom(...spares.map((s) => s.id)) },
                  fc.constantFrom(...spares.map((s) => s.site_key), strangerSite.id),
                  wrongId(spares.map((s) => s.id)),
                )
              : family === 'access token'
                ? fc.constant('')
                : ownerOfSite,
          id: family === 'site' ? fc.constant('') : idOf(family),
          who: principal,
          garbage: fc.constantFrom(...GARBAGE_AUTH),
          // A body-less route given a body anyway, or a query it does not take: rare, and then
          // the answer may be a refusal whatever the id.
          payload: fc.oneof(
            { weight: 12, arbitrary: fc.constant<Payload>({ kind: 'none' }) },
            { weight: 1, arbitrary: payloadOf(fc.oneof(fc.constant({}), anything)) },
          ),
          noise: queryNoise,
        }),
      );

    const before = await countRows(api);
    const expected = { ...before };
    const deleted = new Map<Family, number>();
    const refused = new Map<Family, number>();
    /** Rows a site's delete takes with it, per counted table. */
    const rowsOfSite = async (siteId: string): Promise<Partial<Record<CountedTable, number>>> => {
      const { rows } = await api.pool.query<Record<string, number>>(
        `SELECT (SELECT count(*) FROM site_api_keys WHERE site_id = $1)::int AS site_api_keys,
                (SELECT count(*) FROM site_invites WHERE site_id = $1)::int
                  + (SELECT count(*) FROM site_members WHERE site_id = $1)::int AS team,
                (SELECT count(*) FROM goals WHERE site_id = $1)::int AS goals,
                (SELECT count(*) FROM funnels WHERE site_id = $1 AND deleted_at IS NULL)::int AS funnels,
                (SELECT count(*) FROM alerts WHERE site_id = $1)::int AS alerts,
                (SELECT count(*) FROM webhook_subscriptions WHERE site_id = $1)::int AS webhook_subscriptions,
                (SELECT count(*) FROM webhook_deliveries d JOIN webhook_subscriptions s
                   ON s.id = d.subscription_id WHERE s.site_id = $1)::int AS webhook_deliveries`,
        [siteId],
      );
      return { sites: 1, ...rows[0]! };
    };

    await fc.assert(
      fc.asyncProperty(request, async ({ family, siteRef: ref, id, who, garbage, payload, noise }) => {
        const path =
          family === 'site'
            ? `/api/v1/sites/${ref}`
            : family === 'access token'
              ? `/api/v1/access-tokens/${id}`
              : `/api/v1/sites/${ref}/${FAMILY_PATH[family]}/${id}`;
        const tail = `${encodeQuery(noise.extra)}${resolvePath(noise.rawTail)}`;
        const url = `${path}${tail ? `?${tail}` : ''}`;
        const addressed = family === 'access token' ? null : (sitesById.get(ref) ?? null);
        // A UUID names its row in any case; a token id (12 hex digits) only as it is.
        const named = family === 'site' ? ref : /^[0-9a-f-]{36}$/i.test(id) ? id.toLowerCase() : id;
        const target = targets.find(
          (t) => t.family === family && t.id === named && (family === 'access token' || t.site === addressed),
        );
        const deletable = target !== undefined && alive.has(target.id) && mayDelete(who, target);
        // What the delete will take, counted before: a webhook its deliveries, a site everything.
        let takes: Partial<Record<CountedTable, number>> = {};
        if (deletable) {
          if (family === 'site') takes = await rowsOfSite(target.id);
          else if (family === 'webhook') {
            const { rows } = await api.pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1',
              [target.id],
            );
            takes = { webhook_subscriptions: 1, webhook_deliveries: rows[0]!.n };
          } else if (family !== 'api key') {
            takes = {
              [{ goal: 'goals', funnel: 'funnels', alert: 'alerts', 'access token': 'account_tokens' }[
                family
              ]]: 1,
            };
          }
        }

        const res = await send('DELETE', url, who, garbage, payload);
        const what = `DELETE ${url} as ${who} (${deletable ? 'deletable' : 'not deletable'})`;
        expectDocumented(res, what);
        const clean = payload.kind === 'none' && tail === '';
        if (res.statusCode < 300) {
          // Never anything the caller may not delete, nor what is gone, nor an id addressed wrongly.
          expect(deletable, what).toBe(true);
          expect(res.statusCode, what).toBe(200);
          const data = JSON.parse(res.body).data;
          if (family === 'api key') {
            expect(data.revoked_at, what).toEqual(expect.any(String));
            revoked.add(target!.id);
          } else {
            expect(data, what).toEqual({ deleted: true });
            alive.delete(target!.id);
          }
          if (family === 'site') for (const t of targets) if (t.site === target!.id) alive.delete(t.id);
          for (const [table, n] of Object.entries(takes)) expected[table as CountedTable] -= n;
          deleted.set(family, (deleted.get(family) ?? 0) + 1);
        } else {
          refused.set(family, (refused.get(family) ?? 0) + 1);
          // A goal a funnel or an alert uses is kept (409); anything else deletable is deleted.
          if (deletable && clean && !(family === 'goal' && res.statusCode === 409)) {
            expect.fail(`${what}\n→ ${res.statusCode} ${res.body.slice(0, 600)}`);
          }
        }
        await expectNoRejection();
      }),
      { seed: SEED, numRuns: DELETE_RUNS },
    );

    // Counts moved by exactly what the accepted deletes took, and every target is where the model
    // says: nothing refused went, nothing accepted stayed.
    expect(await countRows(api)).toEqual(expected);
    const { rows: present } = await api.pool.query<{ id: string }>(
      `SELECT id::text FROM sites UNION ALL SELECT id::text FROM goals
       UNION ALL SELECT id::text FROM funnels WHERE deleted_at IS NULL UNION ALL SELECT id::text FROM alerts
       UNION ALL SELECT id::text FROM webhook_subscriptions UNION ALL SELECT id::text FROM account_tokens
       UNION ALL SELECT id::text FROM site_api_keys`,
    );
    const exists = new Set(present.map((r) => r.id));
    for (const t of targets) expect(exists.has(t.id), `${t.family} ${t.id}`).toBe(alive.has(t.id));
    const { rows: nowRevoked } = await api.pool.query<{ id: string }>(
      'SELECT id FROM site_api_keys WHERE revoked_at IS NOT NULL',
    );
    const stillThere = (id: string) => exists.has(id);
    expect(new Set(nowRevoked.map((r) => r.id))).toEqual(new Set([...revoked].filter(stillThere)));
    for (const family of ['site', 'goal', 'funnel', 'alert', 'webhook', 'api key', 'access token'] as const) {
      expect(deleted.get(family) ?? 0, `no ${family} was ever deleted`).toBeGreaterThan(0);
      expect(refused.get(family) ?? 0, `no ${family} delete was ever refused`).toBeGreaterThan(0);
    }
  });
});
