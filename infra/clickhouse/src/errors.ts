/**
 * Errors in the shape ClickHouse's HTTP interface gives them: `Code: N. DB::Exception: ... (NAME)`
 * in the body, N in `X-ClickHouse-Exception-Code`, and the status the server picks for N.
 * `@clickhouse/client` parses that body into a `ClickHouseError` with `code` and `type`.
 */

/** An error the host raises itself, worded the way the server words the same failure. */
export class ClickHouseHostError extends Error {
  constructor(
    readonly code: number,
    readonly type: string,
    text: string,
  ) {
    super(`Code: ${code}. DB::Exception: ${text}. (${type})`);
    this.name = 'ClickHouseHostError';
  }
}

export interface WireError {
  code: number;
  type: string;
  status: number;
  message: string;
}

/** The server's exceptionCodeToHTTPStatus, keyed by error name (every engine message ends with it). */
const STATUS_BY_TYPE = new Map<string, number>([
  ['REQUIRED_PASSWORD', 401],
  ...['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED'].map(
    (t) => [t, 403] as const,
  ),
  ...[
    'BAD_ARGUMENTS',
    'CANNOT_COMPILE_REGEXP',
    'CANNOT_PARSE_TEXT',
    'CANNOT_PARSE_ESCAPE_SEQUENCE',
    'CANNOT_PARSE_QUOTED_STRING',
    'CANNOT_PARSE_DATE',
    'CANNOT_PARSE_DATETIME',
    'CANNOT_PARSE_NUMBER',
    'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
    'CANNOT_PARSE_IPV4',
    'CANNOT_PARSE_IPV6',
    'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
    'CANNOT_PARSE_UUID',
    'DUPLICATE_COLUMN',
    'ILLEGAL_COLUMN',
    'UNKNOWN_ELEMENT_IN_AST',
    'UNKNOWN_TYPE_OF_AST_NODE',
    'THERE_IS_NO_COLUMN',
    'TOO_DEEP_AST',
    'TOO_BIG_AST',
    'UNEXPECTED_AST_STRUCTURE',
    'SYNTAX_ERROR',
    'INCORRECT_DATA',
    'TYPE_MISMATCH',
    'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  ].map((t) => [t, 400] as const),
  ...[
    'UNKNOWN_TABLE',
    'UNKNOWN_FUNCTION',
    'UNKNOWN_IDENTIFIER',
    'UNKNOWN_TYPE',
    'UNKNOWN_STORAGE',
    'UNKNOWN_DATABASE',
    'UNKNOWN_SETTING',
    'UNKNOWN_DIRECTION_OF_SORTING',
    'UNKNOWN_AGGREGATE_FUNCTION',
    'UNKNOWN_FORMAT',
    'UNKNOWN_DATABASE_ENGINE',
    'UNKNOWN_TYPE_OF_QUERY',
    'UNKNOWN_ROLE',
  ].map((t) => [t, 404] as const),
  ['QUERY_IS_TOO_LARGE', 413],
  ['NOT_IMPLEMENTED', 501],
  ['SOCKET_TIMEOUT', 503],
  ['CANNOT_OPEN_FILE', 503],
  ['CANNOT_SCHEDULE_TASK', 503],
  ['HTTP_LENGTH_REQUIRED', 411],
  ['TIMEOUT_EXCEEDED', 408],
  ['UNSUPPORTED_MEDIA_TYPE', 415],
]);

const ENGINE_MESSAGE = /^Code: (\d+)\./;
const TYPE_AT_END = /\(([A-Z0-9_]+)\)\s*$/;

/**
 * chdb errors already carry the engine's own text (`Code: N. DB::Exception: ... (NAME)`), stream
 * errors included, so the code and name are read from the message itself. Anything else is a
 * failure of the host and is reported as the server reports a C++ std::exception.
 */
export function toWireError(err: unknown): WireError {
  const text = err instanceof Error ? err.message : String(err);
  const code = ENGINE_MESSAGE.exec(text)?.[1];
  if (code !== undefined) {
    const type = TYPE_AT_END.exec(text)?.[1] ?? 'UNKNOWN_EXCEPTION';
    return { code: Number(code), type, status: STATUS_BY_TYPE.get(type) ?? 500, message: text.trimEnd() };
  }
  const wrapped = new ClickHouseHostError(1001, 'STD_EXCEPTION', text);
  return { code: 1001, type: 'STD_EXCEPTION', status: 500, message: wrapped.message };
}
