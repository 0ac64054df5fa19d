export * from './common';
export * from './auth';
export * from './access-tokens';
export * from './sites';
export * from './api-keys';
export * from './team';
export * from './activity';
export {
  hostNameProblem,
  hostPatternProblem,
  ipOrCidrProblem,
  pathGlobProblem,
  countryProblem,
  currencyProblem,
  normalizeTimeZone,
} from './validators';
export { COUNTRY_CODES } from './countries';
