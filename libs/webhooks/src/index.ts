export { classifyAddress, checkWebhookUrl, type AddressVerdict, type TargetPolicy } from './address-policy';
export {
  createEventDeliveries,
  createTestDelivery,
  type NewEventDeliveries,
  type Queryable,
} from './deliveries';
export { parseDuration, parseDurationList } from './duration';
export {
  WEBHOOK_BATCH_MAX,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TEST_EVENT_TYPE,
  toWebhookEventItem,
  webhookEventItem,
  type AlertTriggeredData,
  type EnrichedEventFields,
  type EventBatchData,
  type GoalCompletedData,
  type TestEventData,
  type WebhookEventItem,
  type WebhookEventType,
} from './events';
export {
  TargetRefusedError,
  createWebhookHttpClient,
  type ResolvedAddress,
  type Resolver,
  type WebhookHttpClient,
  type WebhookHttpClientOptions,
  type WebhookResponse,
} from './http-client';
export {
  DEFAULT_RETRY_SCHEDULE,
  DEFAULT_RETRY_SCHEDULE_MS,
  RETRY_JITTER,
  nextRetryDelay,
  parseRetryAfter,
  withJitter,
  type NextRetryInput,
} from './retry';
export {
  WEBHOOK_SECRET_PREFIX,
  generateWebhookSecret,
  serializePayload,
  signWebhook,
  type SignInput,
  type WebhookHeaders,
  type WebhookPayload,
} from './signing';
