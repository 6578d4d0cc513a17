/** The first tier of a classification: what kind of failure it was. */
export enum FailureType {
  GENERATION_REFUSAL = 'generation_refusal',
  SERVICE_ERROR = 'service_error',
  TIMEOUT = 'timeout',
  VALIDATION_ERROR = 'validation_error',
  RESOURCE_LIMIT = 'resource_limit',
  AUTH_ERROR = 'auth_error',
  RATE_LIMIT = 'rate_limit',
  NETWORK_ERROR = 'network_error',
  RESPONSE_ERROR = 'response_error',
  SYSTEM_ERROR = 'system_error',
}

/** The second tier: the specific cause within its type. */
export enum FailureReason {
  // generation_refusal
  VIOLENCE_DETECTED = 'violence_detected',
  COPYRIGHT_BLOCKER = 'copyright_blocker',
  NSFW_CONTENT = 'nsfw_content',
  HATE_SPEECH = 'hate_speech',
  PERSONAL_INFO = 'personal_info',
  SAFETY_FILTER = 'safety_filter',
  POLICY_VIOLATION = 'policy_violation',
  // service_error
  SERVICE_DOWN = 'service_down',
  SERVICE_UNAVAILABLE = 'service_unavailable',
  MAINTENANCE_MODE = 'maintenance_mode',
  DEGRADED_PERFORMANCE = 'degraded_performance',
  // timeout
  JOB_TIMEOUT = 'job_timeout',
  NETWORK_TIMEOUT = 'network_timeout',
  PROCESSING_TIMEOUT = 'processing_timeout',
  QUEUE_TIMEOUT = 'queue_timeout',
  // validation_error
  INVALID_PAYLOAD = 'invalid_payload',
  MISSING_REQUIRED_FIELD = 'missing_required_field',
  INVALID_FORMAT = 'invalid_format',
  UNSUPPORTED_OPERATION = 'unsupported_operation',
  MODEL_NOT_FOUND = 'model_not_found',
  COMPONENT_ERROR = 'component_error',
  // resource_limit
  OUT_OF_MEMORY = 'out_of_memory',
  DISK_SPACE_FULL = 'disk_space_full',
  GPU_MEMORY_FULL = 'gpu_memory_full',
  CONCURRENT_LIMIT = 'concurrent_limit',
  // auth_error
  INVALID_API_KEY = 'invalid_api_key',
  EXPIRED_TOKEN = 'expired_token',
  INSUFFICIENT_PERMISSIONS = 'insufficient_permissions',
  ACCOUNT_SUSPENDED = 'account_suspended',
  // rate_limit
  REQUESTS_PER_MINUTE = 'requests_per_minute',
  TOKENS_PER_MINUTE = 'tokens_per_minute',
  DAILY_QUOTA_EXCEEDED = 'daily_quota_exceeded',
  API_QUOTA_EXCEEDED = 'api_quota_exceeded',
  CONCURRENT_REQUESTS = 'concurrent_requests',
  // network_error
  CONNECTION_FAILED = 'connection_failed',
  DNS_RESOLUTION = 'dns_resolution',
  SSL_CERTIFICATE = 'ssl_certificate',
  PROXY_ERROR = 'proxy_error',
  // response_error
  INVALID_RESPONSE_FORMAT = 'invalid_response_format',
  UNEXPECTED_CONTENT_TYPE = 'unexpected_content_type',
  CORRUPTED_DATA = 'corrupted_data',
  MISSING_EXPECTED_DATA = 'missing_expected_data',
  // system_error
  INTERNAL_ERROR = 'internal_error',
  CONFIG_ERROR = 'config_error',
  DEPENDENCY_ERROR = 'dependency_error',
  GPU_ERROR = 'gpu_error',
  UNKNOWN_ERROR = 'unknown_error',
}

/** What the caller knows about the failure besides its message. */
export interface FailureContext {
  /** Connector or service that failed, e.g. `openai`, `comfyui` (named in the description). */
  serviceType?: string;
  /** HTTP status of the upstream response, when there was one. */
  httpStatus?: number;
  /** Parsed response body (an OpenAI error body, a ComfyUI history entry, an async job result). */
  responseData?: unknown;
  /** The caller's own deadline fired (request timeout, job timeout). */
  timeout?: boolean;
  /** Response headers: `retry-after`, `retry-after-ms`, `x-request-id` are read. */
  headers?: Record<string, string | string[] | number | undefined>;
  /** Provider request id, when the caller has it outside the body and headers. */
  requestId?: string;
}

export interface FailureClassification {
  failure_type: FailureType;
  failure_reason: FailureReason;
  /** Human-readable, one line, secrets redacted; names the service, status and provider request id. */
  failure_description: string;
  /** Transient (worth another attempt) or permanent. */
  retryable: boolean;
  /** The upstream said when to come back (Retry-After and friends). */
  retry_after_ms?: number;
}
