import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookHttpClient, type WebhookHttpClient } from './http-client';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let handler: Handler = (_req, res) => res.end('ok');
let hits: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let server: Server;
let base: string;
let client: WebhookHttpClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers, body });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = createWebhookHttpClient({ allowPrivateTargets: true, timeoutMs: 500 });
});

afterEach(() => {
  hits = [];
  handler = (_req, res) => res.end('ok');
});

afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('webhook HTTP client', () => {
  it('posts the body with the given headers and reports a 2xx as ok', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const res = await client.post(`${base}/hook`, { 'webhook-id': 'msg_1' }, '{"a":1}');
    expect(res).toMatchObject({ ok: true, statusCode: 204, error: null, refused: false, excerpt: '' });
    expect(hits[0]?.body).toBe('{"a":1}');
    expect(hits[0]?.headers['webhook-id']).toBe('msg_1');
    expect(hits[0]?.headers['content-type']).toBe('application/json');
  });

  it('keeps only the first KiB of the answer', async () => {
    handler = (_req, res) => res.writeHead(500).end('x'.repeat(1024 * 1024));
    const res = await client.post(`${base}/big`, {}, '{}');
    expect(res.ok).toBe(false);
    expect(res.statusCode).toBe(500);
    expect(res.excerpt).toHaveLength(1024);
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    handler = (req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: `${base}/target` }).end();
      else res.end('followed');
    };
    const res = await client.post(`${base}/start`, {}, '{}');
    expect(res).toMatchObject({ ok: false, statusCode: 302 });
    expect(hits.map((h) => h.url)).toEqual(['/start']);
  });

  it('reads Retry-After of failed answers', async () => {
    handler = (_req, res) => res.writeHead(429, { 'retry-after': '120' }).end('slow down');
    const res = await client.post(`${base}/busy`, {}, '{}');
    expect(res).toMatchObject({ ok: false, statusCode: 429, retryAfterMs: 120_000, excerpt: 'slow down' });
  });

  it('gives up after the timeout', async () => {
    handler = () => {};
    const res = await client.post(`${base}/hang`, {}, '{}');
    expect(res).toMatchObject({
      ok: false,
      statusCode: null,
      error: 'timed out after 500 ms',
      refused: false,
    });
    expect(res.latencyMs).toBeGreaterThanOrEqual(450);
  });

  it('reports connection failures', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const res = await client.post(`http://127.0.0.1:${port}/`, {}, '{}');
    expect(res.ok).toBe(false);
    expect(res.error).toMatch(/ECONNREFUSED/);
  });
});

describe('address checks at connect time', () => {
  it('refuses a host name whose addresses are all refused, without connecting', async () => {
    const strict = createWebhookHttpClient({
      allowPrivateTargets: false,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const port = (server.address() as AddressInfo).port;
    const res = await strict.post(`http://hooks.example.test:${port}/`, {}, '{}');
    await strict.close();
    expect(res).toMatchObject({ ok: false, refused: true, statusCode: null });
    expect(res.error).toBe('refused: refused to connect to 127.0.0.1: loopback address');
    expect(hits).toEqual([]);
  });

  it('connects only to the allowed addresses of a host name', async () => {
    const strict = createWebhookHttpClient({
      allowPrivateTargets: false,
      resolve: async () => [
        { address: '10.0.0.7', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      // Stands in for a public address: the test can only listen on loopback.
      addressPolicy: (a) => (a === '127.0.0.1' ? { allowed: true } : { allowed: false, reason: 'private' }),
    });
    const port = (server.address() as AddressInfo).port;
    const res = await strict.post(`http://hooks.example.test:${port}/mixed`, {}, '{}');
    await strict.close();
    expect(res).toMatchObject({ ok: true, statusCode: 200 });
    expect(hits.map((h) => h.url)).toEqual(['/mixed']);
  });
});
