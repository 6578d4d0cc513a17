export {
  FailureType,
  FailureReason,
  type FailureContext,
  type FailureClassification,
} from './types.js';
export {
  FailureClassifier,
  isRetryable,
  RETRYABLE_BY_TYPE,
  RETRYABLE_OVERRIDES,
} from './classifier.js';
export { redactSecrets } from './redact.js';
export { parseRetryAfter, parseDuration, retryAfterFrom } from './retry-after.js';
export {
  decideRetry,
  DEFAULT_MAX_RETRY_AFTER_MS,
  type RetryDecision,
  type RetryDecisionInput,
  type RetryDecisionKind,
} from './retry-decision.js';
export {
  attestationSchema,
  attestationKeys,
  createAttestationStore,
  readJobAttestations,
  readWorkflowAttestations,
  InvalidAttestationError,
  type Attestation,
  type AttestationInput,
  type AttestationStore,
  type AttestationStoreOptions,
} from './attestations.js';
