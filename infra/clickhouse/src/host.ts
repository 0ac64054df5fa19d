/**
 * Development and test engine host for ClickHouse. NOT a production database server.
 *
 * There is no Docker on our machines, so the real ClickHouse engine runs embedded through npm
 * `chdb`, in this one process, on one data directory. The process speaks the part of ClickHouse's
 * HTTP interface that `@clickhouse/client` uses, so services talk to it exactly as they talk to a
 * clickhouse-server, and pointing `CLICKHOUSE_URL` at a real server needs no code change.
 *
 * Differences from a server that matter in use:
 * - no users or access control: Basic auth, `user`/`password` and `X-ClickHouse-User` are accepted
 *   and ignored, which is why it binds 127.0.0.1 unless told otherwise;
 * - one query at a time: requests queue in arrival order (the embedded engine has one connection);
 * - no HTTP sessions (`session_id` is ignored, so temporary tables outlive their request).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RawInsertFormat, Session } from 'chdb';
import { pino, type Logger } from 'pino';
import { Engine, type RequestScope } from './engine';
import { ClickHouseHostError, toWireError } from './errors';
import {
  contentTypeFor,
  createCompressor,
  exceptionBlock,
  exceptionTag,
  headerSafe,
  parseQueryRequest,
  readBody,
  ResponseBody,
  type QueryRequest,
  type ResponseEncoding,
} from './protocol';
import { analyzeStatement, IDENTIFIER, quoteString, type StatementInfo } from './sql';

export interface ClickHouseHostOptions {
  /** 0 picks a free port; the one in use is in the result. */
  port: number;
  /** Interface to bind; 127.0.0.1 by default because the host has no access control. */
  host?: string;
  dataDir: string;
  logger?: Logger;
}

export interface ClickHouseHost {
  url: string;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish, then closes the engine. */
  close(): Promise<void>;
}

/** Statements chdb can stream (`queryStream` refuses the rest). */
const STREAMABLE_KINDS = new Set(['SELECT', 'WITH', '(']);
const READ_KINDS = new Set([...STREAMABLE_KINDS, 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN']);

/**
 * chdb formats every streamed chunk on its own, so only formats whose chunks concatenate into one
 * valid document can be streamed: one row per line (or per record), no prefix or suffix. The value
 * is the number of header lines each chunk repeats, which are dropped after the first chunk.
 * Everything else (JSON, Pretty, Parquet, ...) is buffered.
 */
const STREAM_HEADER_LINES = new Map<string, number>([
  ...[
    'tabseparated',
    'tsv',
    'tabseparatedraw',
    'tsvraw',
    'raw',
    'csv',
    'jsoneachrow',
    'jsonlines',
    'ndjson',
    'jsonstringseachrow',
    'jsoncompacteachrow',
    'jsoncompactstringseachrow',
    'rowbinary',
  ].map((f) => [f, 0] as const),
  ...[
    'tabseparatedwithnames',
    'tsvwithnames',
    'tabseparatedrawwithnames',
    'tsvrawwithnames',
    'csvwithnames',
    'jsoncompacteachrowwithnames',
    'jsoncompactstringseachrowwithnames',
  ].flatMap((f) => [[f, 1] as const, [`${f}andtypes`, 2] as const]),
]);

/**
 * `INSERT INTO t [(a, b)] FORMAT F` as `@clickhouse/client` writes it, with its data in the body.
 * Text formats go to chdb's raw insert as bytes, and we learn the rows written.
 */
const RAW_INSERT =
  /^\s*INSERT\s+INTO\s+(?:TABLE\s+)?([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)\s*(?:\(([^)]*)\))?\s*FORMAT\s+([A-Za-z]+)\s*;?\s*$/i;
const RAW_INSERT_FORMATS: ReadonlySet<string> = new Set<RawInsertFormat>([
  'JSONEachRow',
  'JSONCompactEachRow',
  'CSV',
  'CSVWithNames',
  'TSV',
  'TabSeparated',
  'TSVWithNames',
  'TabSeparatedWithNames',
]);
/**
 * Binary formats go through a file the engine reads (`FROM INFILE`): chdb's raw insert hands its
 * data to the engine inline after the statement, where two newline bytes in a row end the data
 * early, and binary values hold any bytes.
 */
const FILE_INSERT_FORMATS: ReadonlySet<string> = new Set([
  'RowBinary',
  'RowBinaryWithNamesAndTypes',
  'Native',
]);

type RawInsert = { table: string; columns: string[] | undefined } & (
  { via: 'raw'; format: RawInsertFormat } | { via: 'file'; format: string }
);

interface PlanBase {
  sql: string;
  info: StatementInfo;
  outputFormat: string;
}

type Plan =
  | (PlanBase & { mode: 'insert'; insert: RawInsert })
  | (PlanBase & { mode: 'buffer' })
  /** `headerLines`: header lines each streamed chunk repeats. */
  | (PlanBase & { mode: 'stream'; headerLines: number });

interface Summary {
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
  resultRows: number;
  resultBytes: number;
  elapsedSeconds: number;
}

/** One request and what its response needs. */
interface Exchange {
  request: QueryRequest;
  res: ServerResponse;
  headers: Record<string, string>;
  tag: string;
  clientGone: AbortSignal;
}

interface Answer {
  bytes: Uint8Array;
  summary: Summary;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(body: Buffer): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new ClickHouseHostError(
      48,
      'NOT_IMPLEMENTED',
      `The request body is not UTF-8 text. The local ClickHouse host passes query text to the engine as a string; binary data is only taken by INSERT ... FORMAT ${[...RAW_INSERT_FORMATS, ...FILE_INSERT_FORMATS].join('/')} with the statement in the URL`,
    );
  }
}

function rawInsertOf(statement: string): RawInsert | undefined {
  const m = RAW_INSERT.exec(statement);
  if (!m) return undefined;
  const format = m[3]!;
  const columns = m[2]?.split(',').map((c) => c.trim());
  if (columns && !columns.every((c) => IDENTIFIER.test(c))) return undefined;
  const target = { table: m[1]!, columns };
  if (RAW_INSERT_FORMATS.has(format)) return { ...target, via: 'raw', format: format as RawInsertFormat };
  if (FILE_INSERT_FORMATS.has(format)) return { ...target, via: 'file', format };
  return undefined;
}

/** Works out how to run the request, and refuses what the server would refuse before running it. */
function planStatement(request: QueryRequest): Plan {
  const { urlQuery, body } = request;
  const head = analyzeStatement(urlQuery);
  // With the statement in the URL, an INSERT's body is its data, not more SQL to read.
  const bodyIsData = urlQuery !== '' && body.length > 0 && head.kind === 'INSERT' && head.insertDataFollows;
  const insert = bodyIsData ? rawInsertOf(urlQuery) : undefined;
  const sql = insert ? urlQuery : [urlQuery, decodeText(body)].filter((part) => part.length > 0).join('\n');
  const info = bodyIsData ? head : analyzeStatement(sql);

  if (info.kind === '') throw new ClickHouseHostError(62, 'SYNTAX_ERROR', 'Empty query');
  if (info.multiStatement)
    throw new ClickHouseHostError(62, 'SYNTAX_ERROR', 'Multi-statements are not allowed');
  // A parameter set by an earlier request is still on the session; the server would not know it.
  const missing = info.placeholders.find((name) => !request.params.has(name));
  if (missing !== undefined) {
    throw new ClickHouseHostError(456, 'UNKNOWN_QUERY_PARAMETER', `Substitution \`${missing}\` is not set`);
  }

  const outputFormat =
    (info.kind !== 'INSERT' ? info.format : undefined) ?? request.defaultFormat ?? 'TabSeparated';
  if (insert) return { mode: 'insert', sql, info, outputFormat, insert };
  const headerLines = STREAM_HEADER_LINES.get(outputFormat.toLowerCase());
  const streamable =
    STREAMABLE_KINDS.has(info.kind) &&
    !info.formatUncertain &&
    !request.waitEndOfQuery &&
    // This one wraps JSONEachRow chunks in brackets.
    !request.settings.has('output_format_json_array_of_rows');
  return streamable && headerLines !== undefined
    ? { mode: 'stream', sql, info, outputFormat, headerLines }
    : { mode: 'buffer', sql, info, outputFormat };
}

function summaryHeader(s: Summary): string {
  return JSON.stringify({
    read_rows: String(s.readRows),
    read_bytes: String(s.readBytes),
    written_rows: String(s.writtenRows),
    written_bytes: String(s.writtenBytes),
    total_rows_to_read: String(s.readRows),
    result_rows: String(s.resultRows),
    result_bytes: String(s.resultBytes),
    elapsed_ns: String(Math.round(s.elapsedSeconds * 1e9)),
  });
}

/** The rest of `bytes` after its first `lines` newlines. */
function afterLines(bytes: Uint8Array, lines: number): Uint8Array {
  let start = 0;
  for (let i = 0; i < lines; i++) {
    const eol = bytes.indexOf(0x0a, start);
    if (eol < 0) return bytes.subarray(bytes.length);
    start = eol + 1;
  }
  return bytes.subarray(start);
}

async function compress(
  data: Uint8Array,
  encoding: ResponseEncoding,
  level: number | undefined,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([data]),
    createCompressor(encoding, level),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) chunks.push(chunk);
    },
  );
  return Buffer.concat(chunks);
}

export async function startClickHouseHost(opts: ClickHouseHostOptions): Promise<ClickHouseHost> {
  const logger = opts.logger ?? pino({ enabled: false });
  const engine = await Engine.open(resolve(opts.dataDir), logger);
  // Binary inserts pass through here (FILE_INSERT_FORMATS); each file lives for its one statement.
  const insertDir = mkdtempSync(join(tmpdir(), 'tidemark-clickhouse-insert-'));
  const displayName = hostname();
  let closing: Promise<void> | undefined;
  let warnedAboutSessions = false;

  const sendText = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  const withVersion = (message: string) => `${message} (version ${engine.version} (chdb))`;

  const sendError = (res: ServerResponse, err: unknown, queryId: string, tag: string) => {
    if (res.destroyed) {
      logger.debug({ err, queryId }, 'client left before its answer');
      return;
    }
    const wire = toWireError(err);
    if (wire.code === 1001) logger.error({ err, queryId }, 'host failure while serving a query');
    else logger.debug({ queryId, code: wire.code, type: wire.type }, 'query failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = `${withVersion(wire.message)}\n`;
    res.writeHead(wire.status, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
      'X-ClickHouse-Exception-Code': String(wire.code),
      'X-ClickHouse-Exception-Tag': tag,
      'X-ClickHouse-Query-Id': headerSafe(queryId),
      'X-ClickHouse-Server-Display-Name': displayName,
    });
    res.end(text);
  };

  /**
   * Streams a read chunk by chunk as the engine produces it. The status line waits for the first
   * chunk, so an error at the start is still a proper error response; a later one is written into
   * the body as the server writes it.
   */
  const streamRows = async (
    session: Session,
    plan: Extract<Plan, { mode: 'stream' }>,
    { request, res, headers, tag, clientGone }: Exchange,
  ): Promise<void> => {
    const stream = session.queryStream(plan.sql, { format: plan.outputFormat, signal: clientGone });
    let body: ResponseBody | undefined;
    const start = () => {
      const encoding = request.responseEncoding;
      res.writeHead(200, encoding ? { ...headers, 'Content-Encoding': encoding } : headers);
      return new ResponseBody(res, encoding, request.compressionLevel, request.sendTimeoutMs);
    };
    try {
      for await (const chunk of stream) {
        let bytes = chunk.raw();
        if (body === undefined) body = start();
        else if (plan.headerLines > 0) bytes = afterLines(bytes, plan.headerLines);
        await body.write(bytes);
      }
      await (body ?? start()).end();
    } catch (err) {
      if (clientGone.aborted || res.destroyed) {
        logger.debug({ queryId: request.queryId, err }, 'client left during a streamed result');
        return;
      }
      if (body === undefined) throw err;
      logger.debug({ queryId: request.queryId, err }, 'query failed after its result started');
      await body.fail(exceptionBlock(withVersion(toWireError(err).message), tag));
    }
  };

  const execute = async (session: Session, plan: Plan, request: QueryRequest): Promise<Answer> => {
    if (plan.mode === 'insert' && plan.insert.via === 'file') {
      const { table, columns, format } = plan.insert;
      const file = join(insertDir, `${randomUUID()}.${format}`);
      await writeFile(file, request.body);
      try {
        const target = columns ? `${table} (${columns.join(', ')})` : table;
        const result = await session.queryAsync(
          `INSERT INTO ${target} FROM INFILE ${quoteString(file)} FORMAT ${format}`,
          { format: 'TabSeparated' },
        );
        // chdb reports the rows and bytes read from the file; those are the rows the insert wrote
        // (a server would add its views' rows to `written`).
        return {
          bytes: new Uint8Array(0),
          summary: {
            readRows: result.rowsRead,
            readBytes: result.bytesRead,
            writtenRows: result.rowsRead,
            writtenBytes: result.bytesRead,
            resultRows: 0,
            resultBytes: 0,
            elapsedSeconds: result.elapsed,
          },
        };
      } finally {
        await unlink(file).catch(() => {});
      }
    }
    if (plan.mode === 'insert' && plan.insert.via === 'raw') {
      const { table, columns, format } = plan.insert;
      const written = await session.insert({
        table,
        format,
        values: request.body,
        ...(columns ? { columns } : {}),
      });
      return {
        bytes: new Uint8Array(0),
        summary: {
          readRows: written.rowsSent ?? written.rowsWritten,
          readBytes: written.bytesSent,
          writtenRows: written.rowsWritten,
          writtenBytes: written.bytesWritten,
          resultRows: 0,
          resultBytes: 0,
          elapsedSeconds: written.elapsed,
        },
      };
    }
    const result = await session.queryAsync(plan.sql, { format: plan.outputFormat });
    // chdb counts the rows and bytes of the result, not what the query scanned: both report that.
    return {
      bytes: result.bytes(),
      summary: {
        readRows: result.rowsRead,
        readBytes: result.bytesRead,
        writtenRows: 0,
        writtenBytes: 0,
        resultRows: result.rowsRead,
        resultBytes: result.bytesRead,
        elapsedSeconds: result.elapsed,
      },
    };
  };

  const runQuery = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const request = parseQueryRequest(req, url, await readBody(req));
    const tag = exceptionTag();
    try {
      if (request.sessionId !== undefined && !warnedAboutSessions) {
        warnedAboutSessions = true;
        logger.warn('session_id is ignored: the local ClickHouse host has no HTTP sessions');
      }
      const plan = planStatement(request);
      const headers: Record<string, string> = {
        'Content-Type': contentTypeFor(plan.outputFormat),
        'X-ClickHouse-Query-Id': headerSafe(request.queryId),
        'X-ClickHouse-Format': plan.outputFormat,
        'X-ClickHouse-Timezone': request.settings.get('session_timezone') || engine.timezone,
        'X-ClickHouse-Server-Display-Name': displayName,
        'X-ClickHouse-Exception-Tag': tag,
      };
      const scope: RequestScope = {
        database: request.database,
        settings: request.settings,
        params: request.params,
        assigned: plan.info.assignedSettings.filter(
          (name) => IDENTIFIER.test(name) && !name.startsWith('param_'),
        ),
      };
      const clientGone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) clientGone.abort();
      });

      const started = performance.now();
      const answer = await engine.run(scope, async (session) => {
        // A queued read whose client already left has nobody to answer; writes still happen.
        if (clientGone.signal.aborted && READ_KINDS.has(plan.info.kind)) return undefined;
        if (plan.mode === 'stream') {
          await streamRows(session, plan, { request, res, headers, tag, clientGone: clientGone.signal });
          return undefined;
        }
        return execute(session, plan, request);
      });
      logger.debug(
        {
          queryId: request.queryId,
          kind: plan.info.kind,
          mode: plan.mode,
          ms: Math.round(performance.now() - started),
        },
        'query done',
      );
      if (answer === undefined || res.destroyed) return;

      const encoding = answer.bytes.length > 0 ? request.responseEncoding : undefined;
      const payload = encoding
        ? await compress(answer.bytes, encoding, request.compressionLevel)
        : answer.bytes;
      res.writeHead(200, {
        ...headers,
        ...(encoding ? { 'Content-Encoding': encoding } : {}),
        'Content-Length': payload.byteLength,
        'X-ClickHouse-Summary': summaryHeader(answer.summary),
      });
      res.end(payload);
    } catch (err) {
      sendError(res, err, request.queryId, tag);
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    if (url.pathname === '/ping') return sendText(res, 200, 'Ok.\n');
    if (url.pathname !== '/') {
      return sendText(res, 404, `There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`);
    }
    if (req.method !== 'POST' && !url.searchParams.has('query')) return sendText(res, 200, 'Ok.\n');
    return runQuery(req, res, url);
  };

  const server = createServer((req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    // Keep-alive connections are only closed once idle, so re-check after every answer while stopping.
    res.once('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(req, res, url).catch((err: unknown) =>
      sendError(res, err, url.searchParams.get('query_id') ?? '', exceptionTag()),
    );
  });
  // Longer than @clickhouse/client's idle socket TTL (2.5 s), as the server's is.
  server.keepAliveTimeout = 10_000;

  const bind = opts.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(opts.port, bind, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  } catch (err) {
    await engine.close();
    rmSync(insertDir, { recursive: true, force: true });
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const url = `http://${bind.includes(':') ? `[${bind}]` : bind}:${port}`;
  logger.info({ url, dataDir: resolve(opts.dataDir), version: engine.version }, 'clickhouse host listening');

  return {
    url,
    port,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
        server.closeIdleConnections();
        await stopped;
        await engine.close();
        rmSync(insertDir, { recursive: true, force: true });
        logger.info('clickhouse host stopped');
      })();
      return closing;
    },
  };
}
