import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type RunningPipeline } from '../support/services';
import { startWebhookReceiver, verifyWebhooks, type WebhookReceiver } from '../support/webhooks';

/**
 * Runs every `sh` block of docs/getting-started.md, in order, in one bash, against the real
 * services: the page a newcomer copies from cannot rot. A local receiver checks the webhook the
 * page promises, with the official Standard Webhooks verifier and the secret the page printed.
 */
const doc = fileURLToPath(new URL('../../docs/getting-started.md', import.meta.url));

describe('docs/getting-started.md', () => {
  let pipeline: RunningPipeline;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    pipeline = await startPipeline(['api', 'consumer', 'worker', 'ingest'], {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    });
  });

  afterAll(async () => {
    await pipeline?.stop();
    await receiver?.close();
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
            RECEIVER: receiver.url,
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
    const types = verifyWebhooks(receiver.received, secret!).map((w) => w.type);
    expect(types.sort()).toEqual(['alert.triggered', 'goal.completed']);
  });
});
