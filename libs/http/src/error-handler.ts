import type { FastifyError, FastifyInstance } from 'fastify';
import type { ZodError } from 'zod';
import { ApiError } from './api-error';

/** `{field.path: [messages]}` for the `details` of a 422; the root is called `body`. */
export function zodDetails(error: ZodError, root = 'body'): Record<string, string[]> {
  const details: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = issue.path.length ? issue.path.join('.') : root;
    (details[key] ??= []).push(issue.message);
  }
  return details;
}

function isZodError(err: unknown): err is ZodError {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'ZodError';
}

/** Maps fastify's own errors (body parsing, limits, content types) to the contract's codes. */
function fromFastifyError(err: FastifyError): ApiError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', 'the request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_request', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('invalid_request', `the request body is not valid JSON: ${err.message}`);
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new ApiError('invalid_request', `the request body is not valid JSON: ${err.message}`);
  }
  if (err.validation) {
    return new ApiError('validation_failed', 'the request is invalid', {
      [err.validationContext ?? 'body']: [err.message],
    });
  }
  if (err.statusCode === 413) return new ApiError('payload_too_large', err.message);
  if (err.statusCode === 415) return new ApiError('unsupported_media_type', err.message);
  return undefined;
}

/**
 * One error handler for every service: each error becomes `{error: {code, message, details?}}`,
 * 4xx logged as warn, 5xx as error, internals never leaked to the caller.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    let apiError: ApiError;
    if (err instanceof ApiError) apiError = err;
    else if (isZodError(err)) apiError = ApiError.validation(zodDetails(err));
    else apiError = fromFastifyError(err as FastifyError) ?? new ApiError('internal_error', 'internal error');

    if (apiError.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.warn({ code: apiError.code, msg: apiError.message }, 'request rejected');

    for (const [name, value] of Object.entries(apiError.headers)) reply.header(name, value);
    return reply.code(apiError.status).send(apiError.toBody());
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new ApiError('not_found', `no route for ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(err.toBody());
  });
}
