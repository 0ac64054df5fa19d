export { ApiError, type ErrorCode, type ErrorBody } from './api-error';
export { registerErrorHandler, zodDetails } from './error-handler';
export { responseSerializerCompiler } from './serializer';
