import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../support/browser';
import { startPipeline, type RunningPipeline } from '../support/services';

/**
 * Runs every `sh` block of docs/getting-started.md, in order, in one bash, against the real
 * services: the page a newcomer copies from cannot rot. A local receiver checks the webhook the
 * page promises, with the official Standard Webhooks verifier and the secret the page printed.
 */
const doc = fileURLToPath(new URL('../../docs/getting-started.md', import.meta.url));

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('docs/getting-started.md', () => {
  let pipeline: RunningPipeline;
  let receiver: Awaited<ReturnType<typeof listen>>;
  const received: Received[] = [];

  beforeAll(async () => {
    receiver = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
    pipeline = await startPipeline(['api', 'consumer', 'worker', 'ingest'], {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    });
  });

  afterAll(async () => {
    await pipeline?.stop();
    receiver?.server.close();
  });

  it('works as written', async () => {
    const blocks = [...readFileSync(doc, 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    const script = ['set -euo pipefail', ...blocks].join('\n');
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn('bash', ['-c', script], {
          env: {
            ...process.env,
            API: pipeline.urls.api,
            INGEST: pipeline.urls.ingest,
            RECEIVER: `${receiver.origin}/hook`,
          },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve({ code: c ?? 1, stdout: out, stderr: err });
        });
      },
    );
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(
      /<script defer data-site="sk_\w+" src="http:\/\/127\.0\.0\.1:\d+\/js\/script\.js"><\/script>/,
    );
    expect(stdout).toContain('{"accepted":1');
    expect(stdout).toMatch(/"value":"\/pricing"/);

    const secret = /verify deliveries with this secret: (whsec_\S+)/.exec(stdout)?.[1];
    expect(secret).toBeDefined();
    const types = received.map((r) => {
      const payload = new Webhook(secret!).verify(r.body, {
        'webhook-id': String(r.headers['webhook-id']),
        'webhook-timestamp': String(r.headers['webhook-timestamp']),
        'webhook-signature': String(r.headers['webhook-signature']),
      }) as { type: string };
      return payload.type;
    });
    expect(types.sort()).toEqual(['alert.triggered', 'goal.completed']);
  });
});
