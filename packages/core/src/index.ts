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
export {
  cancelDrain,
  listWorkers,
  readWorkers,
  registryKeys,
  requestDrain,
  UnknownWorkerError,
  WorkerRegistry,
  type DrainRequest,
  type LostWorker,
  type WorkerRecord,
  type WorkerStatus,
} from './worker-registry.js';
export { mismatch, type Mismatch, type MatchTarget } from './matching.js';
export {
  createInspector,
  explainActive,
  explainPending,
  type Inspector,
  type InspectorOptions,
  type JobFilter,
  type JobPage,
  type QueueHealth,
  type ServiceOverview,
  type StuckReason,
  type WaitingCode,
  type WaitingReason,
} from './inspect.js';
export {
  createReaper,
  reaperLeader,
  reaperLockKey,
  type Reaper,
  type ReaperOptions,
  type ReaperStats,
} from './reaper.js';
export {
  simulationPayloadSchema,
  openaiPayloadSchema,
  comfyPayloadSchema,
  CONNECTOR_PAYLOAD_SCHEMAS,
  payloadSchemaFor,
  type SimulationPayload,
} from './payloads.js';
export {
  operatorAuditKey,
  recentOperatorActions,
  recordOperatorAction,
  type OperatorAction,
} from './operator-audit.js';
