export * from './common';
export * from './auth';
export * from './access-tokens';
export * from './sites';
export * from './api-keys';
export * from './team';
export * from './activity';
export * from './goals';
export * from './funnels';
export * from './alerts';
export * from './webhooks';
export * from './stats';
export * from './dashboard';
export {
  hostNameProblem,
  hostPatternProblem,
  ipOrCidrProblem,
  pathGlobProblem,
  pagePathProblem,
  countryProblem,
  currencyProblem,
  normalizeTimeZone,
} from './validators';
export { COUNTRY_CODES } from './countries';
