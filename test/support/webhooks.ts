import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { listen } from './browser';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReceiver {
  /** Where subscriptions should deliver. */
  url: string;
  /** Every request, in arrival order, duplicates included. */
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/** A subscriber's endpoint on 127.0.0.1 that records what it gets and answers 204. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const { server, origin } = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  return {
    url: `${origin}/hooks/tidemark`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface VerifiedWebhook {
  /** `webhook-id`: what a receiver deduplicates on. */
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * Checks each delivery with the official Standard Webhooks verifier under the subscription's
 * secret (it throws unless the signature matches the body) and returns the payloads.
 */
export function verifyWebhooks(received: readonly ReceivedWebhook[], secret: string): VerifiedWebhook[] {
  const verifier = new Webhook(secret);
  return received.map((r) => {
    const headers = {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    };
    verifier.verify(r.body, headers);
    return { id: headers['webhook-id'], ...(JSON.parse(r.body) as Omit<VerifiedWebhook, 'id'>) };
  });
}
