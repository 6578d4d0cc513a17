export { createQueue, type Queue, type QueueOptions, type ClaimOptions } from './queue.js';
export * from './types.js';
export {
  JobgateError,
  ValidationError,
  JobNotFoundError,
  JobNotHeldError,
  LibraryVersionError,
  type NotHeldReason,
} from './errors.js';
export {
  installLibrary,
  isMissingFunctionError,
  LIBRARY_VERSION,
  type InstallAction,
} from './installer.js';
export { queueKeys, KEY_NAMES, type QueueKeys, type KeyName } from './keys.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export * from './failure/index.js';
