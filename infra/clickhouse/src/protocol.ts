import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type BrotliCompress,
  type Deflate,
  type Gzip,
  createBrotliCompress,
  createBrotliDecompress,
  createDeflate,
  createGunzip,
  createGzip,
  createInflate,
  constants as zlibConstants,
} from 'node:zlib';
import { ClickHouseHostError } from './errors';
import { IDENTIFIER } from './sql';

/**
 * URL parameters the HTTP layer of the server consumes itself. Every other parameter is a setting
 * for this one query, as on the server. Some of these are real settings too, but they only shape
 * the HTTP exchange, which is ours to do.
 */
const HTTP_PARAMETERS = new Set([
  'query',
  'database',
  'query_id',
  'default_format',
  'user',
  'password',
  'quota_key',
  'role',
  'session_id',
  'session_timeout',
  'session_check',
  'compress',
  'decompress',
  'buffer_size',
  'wait_end_of_query',
  'stacktrace',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'http_response_buffer_size',
  'http_wait_end_of_query',
  'http_write_exception_in_output_format',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'http_send_timeout',
  'http_receive_timeout',
]);

export interface QueryRequest {
  /** Query text from the URL; when it is an INSERT, `body` is its data. */
  urlQuery: string;
  body: Buffer;
  queryId: string;
  database: string;
  defaultFormat: string | undefined;
  settings: Map<string, string>;
  params: Map<string, string>;
  responseEncoding: ResponseEncoding | undefined;
  compressionLevel: number | undefined;
  waitEndOfQuery: boolean;
  sendTimeoutMs: number;
  sessionId: string | undefined;
}

export type ResponseEncoding = 'gzip' | 'deflate' | 'br';

const isOn = (value: string | undefined): boolean =>
  value !== undefined && ['1', 'true'].includes(value.trim().toLowerCase());

/** Reads the whole body: the engine takes an INSERT's data in one piece, as one statement. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  };
  const decoder = requestDecoder(req.headers['content-encoding']);
  if (!decoder) {
    await pipeline(req, collect);
    return Buffer.concat(chunks);
  }
  try {
    await pipeline(req, decoder, collect);
  } catch (err) {
    // zlib's own errors; anything else is the upload breaking off.
    if (!(err as NodeJS.ErrnoException).code?.startsWith('Z_')) throw err;
    throw new ClickHouseHostError(
      271,
      'CANNOT_DECOMPRESS',
      `Cannot decompress the request body: ${(err as Error).message}`,
    );
  }
  return Buffer.concat(chunks);
}

function requestDecoder(header: string | undefined): Transform | undefined {
  const encoding = (header ?? '').trim().toLowerCase();
  switch (encoding) {
    case '':
    case 'identity':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw new ClickHouseHostError(36, 'BAD_ARGUMENTS', `Unknown HTTP request compression '${encoding}'`);
  }
}

export function parseQueryRequest(req: IncomingMessage, url: URL, rawBody: Buffer): QueryRequest {
  const fields = new Map<string, string>(url.searchParams);
  let body = rawBody;
  const multipart = /^multipart\/form-data;.*boundary=(?:"([^"]+)"|([^;]+))/i.exec(
    req.headers['content-type'] ?? '',
  );
  if (multipart) {
    // clickhouse-js moves long `param_*` values (and the query) into a form body.
    for (const [name, value] of parseMultipart(rawBody, (multipart[1] ?? multipart[2])!.trim())) {
      fields.set(name, value);
    }
    body = Buffer.alloc(0);
  }

  const settings = new Map<string, string>();
  const params = new Map<string, string>();
  for (const [key, value] of fields) {
    if (key.startsWith('param_')) {
      const name = key.slice('param_'.length);
      if (!IDENTIFIER.test(name)) {
        throw new ClickHouseHostError(36, 'BAD_ARGUMENTS', `Invalid query parameter name '${name}'`);
      }
      params.set(name, value);
    } else if (!HTTP_PARAMETERS.has(key)) {
      if (!IDENTIFIER.test(key)) {
        throw new ClickHouseHostError(115, 'UNKNOWN_SETTING', `Unknown setting '${key}'`);
      }
      settings.set(key, value);
    }
  }
  // The server makes GET requests read-only so that a link cannot change data.
  if ((req.method === 'GET' || req.method === 'HEAD') && !settings.has('readonly'))
    settings.set('readonly', '2');

  const compressionOn = fields.has('enable_http_compression')
    ? isOn(fields.get('enable_http_compression'))
    : true;
  const level = Number(fields.get('http_zlib_compression_level'));
  const sendTimeout = Number(fields.get('http_send_timeout'));
  return {
    urlQuery: fields.get('query') ?? '',
    body,
    queryId: fields.get('query_id') || randomUUID(),
    database: fields.get('database') || headerValue(req, 'x-clickhouse-database') || 'default',
    defaultFormat: fields.get('default_format') || headerValue(req, 'x-clickhouse-format') || undefined,
    settings,
    params,
    responseEncoding: compressionOn ? chooseEncoding(headerValue(req, 'accept-encoding')) : undefined,
    compressionLevel: Number.isInteger(level) && level >= 1 && level <= 9 ? level : undefined,
    waitEndOfQuery: isOn(fields.get('wait_end_of_query')) || isOn(fields.get('http_wait_end_of_query')),
    sendTimeoutMs: (Number.isFinite(sendTimeout) && sendTimeout > 0 ? sendTimeout : 30) * 1000,
    sessionId: fields.get('session_id') || undefined,
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseMultipart(body: Buffer, boundary: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of body.toString('utf8').split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    if (/filename=/i.test(headers)) {
      throw new ClickHouseHostError(
        48,
        'NOT_IMPLEMENTED',
        'External data (file parts) is not supported by the local ClickHouse host',
      );
    }
    const name = /\bname="([^"]*)"/i.exec(headers)?.[1];
    if (name === undefined) continue;
    const value = part.slice(headerEnd + 4);
    fields.set(name, value.endsWith('\r\n') ? value.slice(0, -2) : value);
  }
  return fields;
}

/** gzip when the client takes it (every client does), else another codec it accepts (not `q=0`). */
function chooseEncoding(accept: string | undefined): ResponseEncoding | undefined {
  const accepted = new Set<string>();
  for (const entry of (accept ?? '').split(',')) {
    const [name = '', ...options] = entry.split(';').map((s) => s.trim().toLowerCase());
    if (!options.some((o) => /^q=0(\.0*)?$/.test(o))) accepted.add(name);
  }
  return (['gzip', 'br', 'deflate'] as const).find((codec) => accepted.has(codec));
}

type Compressor = Gzip | Deflate | BrotliCompress;

export function createCompressor(encoding: ResponseEncoding, level: number | undefined): Compressor {
  switch (encoding) {
    case 'gzip':
      return createGzip({ level: level ?? 3 });
    case 'deflate':
      return createDeflate({ level: level ?? 3 });
    case 'br':
      return createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: level ?? 4 } });
  }
}

export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson') return 'application/json; charset=UTF-8';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8';
  if (f.startsWith('pretty') || ['vertical', 'markdown', 'values', 'xml'].includes(f))
    return 'text/plain; charset=UTF-8';
  return 'application/octet-stream';
}

/** The 16 lowercase letters and digits that delimit an exception written into a started body. */
export function exceptionTag(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The block the server (25.11+) appends when a query fails after the body started: the marker,
 * the tag from `X-ClickHouse-Exception-Tag`, the message, its length in bytes, the tag and the
 * marker again. `@clickhouse/client` turns it into a `ClickHouseError` while streaming.
 */
export function exceptionBlock(message: string, tag: string): string {
  const text = message.endsWith('\n') ? message : `${message}\n`;
  return `\r\n__exception__\r\n${tag}\r\n${text}${Buffer.byteLength(text)} ${tag}\r\n__exception__\r\n`;
}

/** Header values must be printable ASCII; an exotic query id is percent-encoded instead of failing. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** See ResponseBody.fail. */
const CUT_AFTER_FAILURE_MS = 500;

/**
 * A response body written chunk by chunk, compressed if the client asked for it, that waits while
 * the client is slow and gives up after the send timeout as the server does (`http_send_timeout`),
 * so a reader that stopped reading cannot hold the engine for ever.
 */
export class ResponseBody {
  readonly #compressor: Compressor | undefined;

  constructor(
    private readonly res: ServerResponse,
    encoding: ResponseEncoding | undefined,
    level: number | undefined,
    private readonly sendTimeoutMs: number,
  ) {
    this.#compressor = encoding ? createCompressor(encoding, level) : undefined;
    this.#compressor?.on('data', (data: Buffer) => {
      if (!res.destroyed) res.write(data);
    });
    res.once('close', () => this.#compressor?.destroy());
  }

  async write(data: Uint8Array | string): Promise<void> {
    if (this.res.destroyed) return;
    const compressor = this.#compressor;
    if (compressor) {
      await new Promise<void>((resolve, reject) =>
        compressor.write(data, (err) => (err ? reject(err) : resolve())),
      );
    } else {
      this.res.write(data);
    }
    if (this.res.writableNeedDrain) await this.#drained();
  }

  async end(): Promise<void> {
    if (this.#compressor) {
      const ended = once(this.#compressor, 'end');
      this.#compressor.end();
      await ended;
    }
    this.res.end();
  }

  /**
   * Ends a started body the way the server does after a late failure: the exception block, then
   * the connection cut without the last chunk, so even a reader that ignores the block sees an
   * incomplete response rather than a short, successful one. The cut waits a moment because
   * @clickhouse/client decompresses asynchronously and drops what it has not decoded when the
   * connection breaks, which would lose the block and leave only "aborted".
   */
  async fail(block: string): Promise<void> {
    if (this.res.destroyed) return;
    const compressor = this.#compressor;
    if (compressor) {
      compressor.write(block);
      await new Promise<void>((resolve) => compressor.flush(() => resolve()));
    } else {
      this.res.write(block);
    }
    setTimeout(() => this.res.socket?.end(), CUT_AFTER_FAILURE_MS);
  }

  #drained(): Promise<void> {
    const { res } = this;
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        res.off('drain', onDone);
        res.off('close', onDone);
        if (err) reject(err);
        else resolve();
      };
      const onDone = () => done();
      const timer = setTimeout(() => {
        res.destroy();
        done(
          new ClickHouseHostError(
            209,
            'SOCKET_TIMEOUT',
            `Timeout exceeded while writing to socket (${this.sendTimeoutMs} ms)`,
          ),
        );
      }, this.sendTimeoutMs);
      res.on('drain', onDone);
      res.on('close', onDone);
    });
  }
}
