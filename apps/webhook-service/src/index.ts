export { webhookKeys, CONSUMER_GROUP, type WebhookKeys } from './keys.js';
export {
  WebhookStore,
  endpointView,
  deliveryView,
  ROTATION_GRACE_MS,
  type EndpointView,
  type DeliveryView,
  type NewEndpoint,
  type EndpointPatch,
} from './store.js';
export {
  checkTarget,
  addressProblem,
  systemResolver,
  TargetRefusedError,
  type TargetPolicy,
  type Resolver,
} from './ssrf.js';
export { signatureHeader, newSecret } from './signing.js';
export {
  STANDARD_SCHEDULE_MS,
  classifyStatus,
  nextAttemptAt,
  parseRetryAfter,
} from './schedule.js';
export {
  WEBHOOK_EVENT_TYPES,
  TEST_EVENT_TYPE,
  type EndpointRecord,
  type DeliveryRecord,
  type DeliveryStatus,
} from './types.js';
export {
  createWebhookService,
  type WebhookService,
  type WebhookServiceDeps,
  type WebhookServiceOptions,
} from './service.js';
export { createStatusServer } from './server.js';
export { parseEvent, type QueueEvent } from './events.js';
