import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { checkWebhookUrl, classifyAddress, type AddressVerdict } from './address-policy';
import { parseRetryAfter } from './retry';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Host name → addresses. The default is the system resolver (`dns.lookup`, so /etc/hosts counts). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface WebhookHttpClientOptions {
  /** Let webhooks reach loopback, private and link-local addresses (tests, on-premise setups). */
  allowPrivateTargets: boolean;
  /** Whole attempt: connect, send, response headers and the excerpt. */
  timeoutMs?: number;
  /** How much of the response body is kept for the attempt log. */
  maxExcerptBytes?: number;
  userAgent?: string;
  resolve?: Resolver;
  /** Which addresses are refused when private targets are not allowed; `classifyAddress` by default. */
  addressPolicy?: (address: string) => AddressVerdict;
}

export interface WebhookResponse {
  /** A 2xx answer. Redirects are not followed: a 3xx is a failure like any other non-2xx. */
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  /** The start of the response body, at most `maxExcerptBytes`. */
  excerpt: string | null;
  /** Why the attempt failed without an answer (refused target, DNS, connect, timeout). */
  error: string | null;
  /** The target was refused by the address policy: no connection was made. */
  refused: boolean;
  retryAfterMs: number | null;
}

export interface WebhookHttpClient {
  post(url: string, headers: Record<string, string>, body: string): Promise<WebhookResponse>;
  close(): Promise<void>;
}

/** A connection to a refused address was not made. */
export class TargetRefusedError extends Error {
  readonly code = 'ERR_WEBHOOK_TARGET_REFUSED';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`refused to connect to ${address}: ${reason} address`);
    this.name = 'TargetRefusedError';
  }
}

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

/**
 * The HTTP client of webhook deliveries. Target addresses are checked when each connection is
 * made, on the addresses the connection actually uses, so a host name that resolved to a public
 * address at save time and to a private one now (DNS rebinding) is still refused; IP-literal URLs
 * never reach DNS and are checked on their own. One pooled agent per process.
 */
export function createWebhookHttpClient(options: WebhookHttpClientOptions): WebhookHttpClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxExcerptBytes = options.maxExcerptBytes ?? 1_024;
  const resolve = options.resolve ?? systemResolver;
  const policy = options.addressPolicy ?? classifyAddress;
  const verdict = (address: string): AddressVerdict =>
    options.allowPrivateTargets ? { allowed: true } : policy(address);

  // Node's net.connect asks for every address (`all: true`) when it races IPv4 and IPv6, one otherwise.
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolve(hostname).then(
      (resolved) => {
        const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
        const candidates = resolved.filter((a) => family === 0 || a.family === family);
        const allowed = candidates.filter((a) => verdict(a.address).allowed);
        if (allowed.length === 0) {
          const first = candidates[0];
          const error = first
            ? new TargetRefusedError(first.address, (verdict(first.address) as { reason: string }).reason)
            : Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
          callback(error as NodeJS.ErrnoException, '', 0);
          return;
        }
        if (lookupOptions.all) callback(null, allowed);
        else callback(null, allowed[0]!.address, allowed[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };

  const baseConnect = buildConnector({ timeout: timeoutMs, lookup });
  const connect: buildConnector.connector = (connectOptions, callback) => {
    // net.connect skips the lookup for IP literals: check those here.
    if (isIP(connectOptions.hostname)) {
      const v = verdict(connectOptions.hostname);
      if (!v.allowed) {
        callback(new TargetRefusedError(connectOptions.hostname, v.reason), null);
        return;
      }
    }
    baseConnect(connectOptions, (...args) => {
      const [err, socket] = args;
      if (err) {
        callback(err, null);
        return;
      }
      // Belt and braces: whatever path led here, the peer must be an allowed address.
      const peer = socket.remoteAddress;
      const v = peer ? verdict(peer) : ({ allowed: false, reason: 'unknown' } as const);
      if (!v.allowed) {
        socket.destroy();
        callback(new TargetRefusedError(peer ?? 'unknown', v.reason), null);
        return;
      }
      callback(null, socket);
    });
  };

  // No cap on connections per origin: a queued request would spend its timeout waiting for a slot;
  // the worker's delivery concurrency already bounds them.
  const agent = new Agent({ connect, keepAliveTimeout: 4_000 });

  return {
    async post(url, headers, body) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const problem = checkWebhookUrl(url, { allowPrivateTargets: options.allowPrivateTargets });
      if (problem) {
        return failure(`refused: URL ${problem}`, 0, true);
      }
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          signal,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'user-agent': options.userAgent ?? 'Tidemark-Webhooks/1.0',
          },
          body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const latencyMs = elapsed();
        const excerpt = await readExcerpt(res.body, maxExcerptBytes).catch(() => null);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        return {
          ok,
          statusCode: res.statusCode,
          latencyMs,
          excerpt,
          error: null,
          refused: false,
          retryAfterMs: ok ? null : parseRetryAfter(res.headers['retry-after']),
        };
      } catch (err) {
        if (signal.aborted) return failure(`timed out after ${timeoutMs} ms`, elapsed(), false);
        const refused = findRefusal(err);
        if (refused) return failure(`refused: ${refused.message}`, elapsed(), true);
        return failure(describe(err), elapsed(), false);
      }
    },
    close: () => agent.close(),
  };
}

function failure(error: string, latencyMs: number, refused: boolean): WebhookResponse {
  return { ok: false, statusCode: null, latencyMs, excerpt: null, error, refused, retryAfterMs: null };
}

async function readExcerpt(body: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early destroys the stream: a huge or endless body is never read past the cap.
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= maxBytes) break;
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

function findRefusal(err: unknown): TargetRefusedError | null {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof TargetRefusedError) return e;
  }
  return null;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${code ? `${code} ` : ''}${err.message}${cause}`.slice(0, 500);
}
