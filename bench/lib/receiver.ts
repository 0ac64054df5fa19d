import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedWebhook {
  id: string;
  path: string;
  body: string;
  /** Epoch ms the request's headers arrived. */
  at: number;
}

/**
 * A webhook endpoint on 127.0.0.1 that answers 200 as soon as it has read the body, and remembers
 * when each `webhook-id` first arrived (retries of a delivery carry the same id: counted once).
 * `onFirst` sees each delivery's first request with its body, for checks that need the payload.
 */
export class WebhookReceiver {
  /** webhook-id → epoch ms of the first request that carried it. */
  readonly firstSeen = new Map<string, number>();
  requests = 0;
  onFirst: ((webhook: ReceivedWebhook) => void) | undefined;
  origin = '';
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((req, res) => {
    const at = Date.now();
    const id = req.headers['webhook-id'];
    this.requests++;
    const first = typeof id === 'string' && !this.firstSeen.has(id);
    if (first) this.firstSeen.set(id, at);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      if (first && this.onFirst) chunks.push(c);
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '0' }).end();
      if (first && this.onFirst) {
        this.onFirst({ id, path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), at });
      }
    });
  });

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    receiver.server.on('connection', (s) => {
      receiver.sockets.add(s);
      s.on('close', () => receiver.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      receiver.server.once('error', reject);
      receiver.server.listen(0, '127.0.0.1', resolve);
    });
    receiver.origin = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}`;
    return receiver;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
