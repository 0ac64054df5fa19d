import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from '@tidemark/db';
import { createWebhookDeliveryQueue, enqueueDelivery, type WebhookDeliveryQueue } from '@tidemark/queues';
import {
  classifyAddress,
  createTestDelivery,
  createWebhookHttpClient,
  type Resolver,
} from '@tidemark/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, waitFor } from '../../../test/support/stack';
import {
  Receiver,
  attemptsOf,
  createSubscription,
  deliveryState,
  newPool,
  seedSite,
  startInProcess,
  workerEnv,
  type InProcessWorker,
} from './int-support';

/** Resolves the test's made-up names; anything else is unknown. */
const fakeDns =
  (names: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const addresses = names[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

let receiver: Receiver;
let v6Receiver: Receiver | undefined;

beforeAll(async () => {
  receiver = await Receiver.start();
  // IPv6 loopback may be missing in some containers; the [::1] case then only checks the refusal.
  v6Receiver = await Receiver.start('::1').catch(() => undefined);
});

afterAll(async () => {
  await receiver?.close();
  await v6Receiver?.close();
});

describe('SSRF protection with private targets not allowed', () => {
  const strict = createWebhookHttpClient({
    allowPrivateTargets: false,
    timeoutMs: 2_000,
    resolve: fakeDns({
      'internal.example.test': ['10.0.0.5'],
      'both.example.test': ['10.0.0.5', '192.168.1.2'],
    }),
  });
  afterAll(() => strict.close());

  it.each([
    ['loopback IPv4 literal', () => `http://127.0.0.1:${receiver.port}/hook`, /loopback/],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['unspecified address', () => `http://0.0.0.0:${receiver.port}/hook`, /unspecified/],
    ['IPv4-mapped loopback', () => `http://[::ffff:127.0.0.1]:${receiver.port}/hook`, /loopback/],
    ['loopback IPv6 literal', () => `http://[::1]:${v6Receiver?.port ?? 9}/hook`, /loopback/],
    [
      'a name resolving to 10.x',
      () => `http://internal.example.test:${receiver.port}/`,
      /10\.0\.0\.5: private/,
    ],
    ['a name resolving only to private addresses', () => 'http://both.example.test/', /private/],
  ])('refuses %s without connecting', async (_, url, reason) => {
    const res = await strict.post(url(), { 'webhook-id': 'msg_x' }, '{}');
    expect(res).toMatchObject({ ok: false, refused: true, statusCode: null });
    expect(res.error).toMatch(reason);
    expect(receiver.requests).toHaveLength(0);
    expect(v6Receiver?.requests ?? []).toHaveLength(0);
  });

  it('does not follow a public receiver redirecting to a private address', async () => {
    // The second hop listens on 127.0.0.2 and must never be reached.
    const target = await Receiver.start('127.0.0.2');
    const hops = await Receiver.start();
    hops.answer = () => ({ status: 307, headers: { location: target.url } });
    const client = createWebhookHttpClient({
      allowPrivateTargets: false,
      resolve: fakeDns({ 'hooks.public.test': ['127.0.0.1'] }),
      // 127.0.0.1 stands in for a public address: a test can only listen on loopback.
      addressPolicy: (a) => (a === '127.0.0.1' ? { allowed: true } : classifyAddress(a)),
    });
    try {
      const res = await client.post(`http://hooks.public.test:${hops.port}/hook`, {}, '{}');
      expect(res).toMatchObject({ ok: false, statusCode: 307, refused: false });
      expect(hops.requests).toHaveLength(1);
      expect(target.requests).toHaveLength(0);
    } finally {
      await client.close();
      await hops.close();
      await target.close();
    }
  });

  describe('in the worker', () => {
    let pool: Pool;
    let worker: InProcessWorker;
    let queue: WebhookDeliveryQueue;

    beforeAll(async () => {
      const url = await freshPostgres();
      pool = newPool(url);
      const env = workerEnv(url, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', WEBHOOK_RETRY_SCHEDULE: '100ms' });
      worker = await startInProcess(env, pool, strict);
      queue = createWebhookDeliveryQueue({ url: env.REDIS_URL!, prefix: env.REDIS_PREFIX! });
    });

    afterAll(async () => {
      await worker?.stop();
      await queue?.close();
      await pool?.end();
    });

    it.each([
      ['a loopback URL', () => receiver.url, 'refused: URL must not point to a loopback address'],
      [
        'a name resolving to 10.x',
        () => `http://internal.example.test:${receiver.port}/hook`,
        'refused: refused to connect to 10.0.0.5: private address',
      ],
    ])('logs refused attempts to %s and fails the delivery', async (_, url, error) => {
      const siteId = await seedSite(pool);
      const { id: subscriptionId } = await createSubscription(pool, siteId, url());
      const id = (await createTestDelivery(pool, subscriptionId))!;
      await enqueueDelivery(queue, id);
      await waitFor(async () => ((await deliveryState(pool, id)).status === 'failed' ? true : undefined));
      const attempts = await attemptsOf(pool, id);
      expect(attempts.map((a) => [a.status_code, a.error])).toEqual([
        [null, error],
        [null, error],
      ]);
      expect(receiver.requests).toHaveLength(0);
    });
  });
});

describe('private targets allowed (tests, on-premise)', () => {
  let server: Server;
  afterAll(() => new Promise((resolve) => server?.close(resolve)));

  it('connects to loopback', async () => {
    server = createServer((_req, res) => res.end('hi'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createWebhookHttpClient({ allowPrivateTargets: true });
    const res = await client.post(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {}, '{}');
    await client.close();
    expect(res).toMatchObject({ ok: true, statusCode: 200, excerpt: 'hi' });
  });
});
