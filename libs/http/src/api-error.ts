/** Every error code of API.md's table; the HTTP status follows from the code. */
export const ERROR_STATUS = {
  invalid_request: 400,
  missing_token: 401,
  invalid_token: 401,
  invalid_credentials: 401,
  insufficient_scope: 403,
  forbidden: 403,
  not_found: 404,
  unknown_site: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  unsupported_query: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, string[]> };
}

/**
 * An error a caller can act on. Thrown from handlers and hooks; the shared error handler turns it
 * into the contract's one JSON shape.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, string[]>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }

  toBody(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }

  static validation(details: Record<string, string[]>, message = 'the request body is invalid') {
    return new ApiError('validation_failed', message, details);
  }

  static unavailable(message: string, retryAfterSeconds: number) {
    return new ApiError('unavailable', message, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}
