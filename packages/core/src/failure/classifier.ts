import { gatherEvidence, type Evidence } from './evidence.js';
import { redactSecrets } from './redact.js';
import { retryAfterFrom } from './retry-after.js';
import {
  FailureReason as R,
  FailureType as T,
  type FailureClassification,
  type FailureContext,
} from './types.js';

/**
 * Whether another attempt can help, by type. Rate limits, timeouts, network trouble and an
 * unavailable service pass; a refusal, bad credentials or a bad request fail the same way again.
 */
export const RETRYABLE_BY_TYPE: Readonly<Record<T, boolean>> = {
  [T.GENERATION_REFUSAL]: false,
  [T.SERVICE_ERROR]: true,
  [T.TIMEOUT]: true,
  [T.VALIDATION_ERROR]: false,
  // Another attempt may land on a worker with a free GPU or disk; attempts stay bounded.
  [T.RESOURCE_LIMIT]: true,
  [T.AUTH_ERROR]: false,
  [T.RATE_LIMIT]: true,
  [T.NETWORK_ERROR]: true,
  [T.RESPONSE_ERROR]: true,
  [T.SYSTEM_ERROR]: true,
};

/** Reasons that do not follow their type: retrying cannot fix them until an operator acts. */
export const RETRYABLE_OVERRIDES: Readonly<Partial<Record<R, boolean>>> = {
  [R.API_QUOTA_EXCEEDED]: false, // billing: the account is out of credit
  [R.DAILY_QUOTA_EXCEEDED]: false, // hours away; better to fail visibly than to hold the job
  [R.SSL_CERTIFICATE]: false, // a bad certificate does not heal in seconds
  [R.CONFIG_ERROR]: false,
  [R.DEPENDENCY_ERROR]: false,
};

export function isRetryable(type: T, reason: R): boolean {
  return RETRYABLE_OVERRIDES[reason] ?? RETRYABLE_BY_TYPE[type];
}

interface Rule {
  type: T;
  /** First matching reason wins; a rule with no matching reason uses `fallback`. */
  reasons?: Array<[R, (e: Evidence) => boolean]>;
  fallback: R;
  when: (e: Evidence) => boolean;
  label: string;
}

const has = (e: Evidence, ...codes: string[]): boolean => codes.some((c) => e.codes.has(c));
const text = (e: Evidence, re: RegExp): boolean => re.test(e.text);
const status = (e: Evidence, ...statuses: number[]): boolean =>
  statuses.some((s) => s === e.status);
const okOrNoStatus = (e: Evidence): boolean =>
  e.status === undefined || (e.status >= 200 && e.status < 300);

const REFUSAL_CODES = [
  'MODERATION_BLOCKED',
  'CONTENT_POLICY_VIOLATION',
  'CONTENT_FILTER',
  'SAFETY_VIOLATION',
  'RESPONSIBLE_AI_POLICY_VIOLATION',
  'CONTENT_POLICY',
  'POLICY_VIOLATION',
  'SAFETY_FILTER',
  'NSFW_CONTENT_DETECTED',
  'REFUSAL',
];
const REFUSAL_TEXT =
  /safety system|safety filter|safety checker|content polic|usage polic|moderation_blocked|content_filter|flagged by|was flagged|responsible ai|nsfw content detected|(request|prompt|image) (was )?(rejected|blocked) (by|due to|because)|i'?m sorry,? but i can(no|')t (help|assist|create|generate)/;
/** What a refusal in prose names as its cause; a refusal verb alone is not enough (see below). */
const REFUSAL_SUBJECT =
  /violen|\bgore\b|gory|weapon|self-harm|copyright|trademark|intellectual property|likeness|public figure|celebrit|sexual|nsfw|nudity|\bnude\b|explicit|adult content|porn|\bhate|hateful|harass|\bslur|discriminat|extremis|personal (info|data|details)|private (individual|person|information)|\bpii\b|personally identifiable|real person|doxx|inappropriate|harmful content|offensive/;
/**
 * Refusals written as prose: a refusal verb ("generation refused", "declined", "cannot
 * generate") together with what it refused over. The pair keeps "cannot generate image: out of
 * memory" out: that names a resource, not a content rule.
 */
function proseRefusal(e: Evidence): boolean {
  const verb =
    /\b(refused|refuses|refusal|declined)\b|(can ?not|can'?t|unable to|won'?t|will not|not able to|not allowed to|is not permitted to) (generate|create|produce|depict|draw|render|make|show)/;
  return verb.test(e.text) && REFUSAL_SUBJECT.test(e.text);
}
const TLS_CODES = [
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
];
/** The socket and connect timeout codes are read first, as network timeouts (see RULES). */
const TIMEOUT_CODES = ['TIMEOUTERROR', 'TIMEOUT'];
const CONNECTION_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CLOSED',
  'HPE_INVALID_CONSTANT',
];

/**
 * A connection or socket that timed out is network trouble (`network_error/network_timeout`);
 * the `timeout` type is kept for deadlines of the job itself (job, processing, queue), which is
 * how attestation consumers read the two.
 */
const NETWORK_TIMEOUT_TEXT =
  /network timeout|connect(ion|ing)? (timeout|timed? ?out)|socket (timeout|timed? ?out|hang up after timeout)|read (timeout|timed? ?out)|\betimedout\b|\besockettimedout\b|und_err_(connect|headers|body)_timeout|connect timeout error/;

/** A job's own deadline: these words say the job (or its stay in a queue) ran out of time. */
const DEADLINE_REASONS: Array<[R, (e: Evidence) => boolean]> = [
  [R.QUEUE_TIMEOUT, (e) => text(e, /\bqueue/)],
  [
    R.JOB_TIMEOUT,
    (e) => text(e, /\bjob\b[^\n]{0,40}(timed? ?out|timeout|exceeded|deadline|ran out of time)/),
  ],
];

/** Most specific first: a provider's own code beats a pattern, a pattern beats a bare status. */
const RULES: Rule[] = [
  {
    type: T.NETWORK_ERROR,
    label: 'Network timeout',
    when: (e) =>
      has(
        e,
        'ETIMEDOUT',
        'ESOCKETTIMEDOUT',
        'UND_ERR_CONNECT_TIMEOUT',
        'UND_ERR_HEADERS_TIMEOUT',
        'UND_ERR_BODY_TIMEOUT',
        'ERR_SOCKET_CONNECTION_TIMEOUT',
      ) || text(e, NETWORK_TIMEOUT_TEXT),
    fallback: R.NETWORK_TIMEOUT,
  },
  {
    type: T.TIMEOUT,
    label: 'Timed out',
    when: (e) => e.timeout,
    reasons: DEADLINE_REASONS,
    fallback: R.PROCESSING_TIMEOUT,
  },
  {
    type: T.GENERATION_REFUSAL,
    label: 'Generation refused by the provider',
    when: (e) => has(e, ...REFUSAL_CODES) || text(e, REFUSAL_TEXT) || proseRefusal(e),
    reasons: [
      [
        R.VIOLENCE_DETECTED,
        (e) => text(e, /violen|\bgore\b|gory|weapon|self-harm|graphic (content|injur)/),
      ],
      [
        R.COPYRIGHT_BLOCKER,
        (e) =>
          text(
            e,
            /copyright|trademark|intellectual property|third[- ]party content|likeness of|public figure/,
          ),
      ],
      [R.NSFW_CONTENT, (e) => text(e, /sexual|nsfw|nudity|\bnude\b|explicit|adult content|porn/)],
      [R.HATE_SPEECH, (e) => text(e, /\bhate\b|hateful|harass|\bslur|discriminat|extremis/)],
      [
        R.PERSONAL_INFO,
        (e) =>
          text(
            e,
            /personal (info|data|details)|\bpii\b|private (individual|person|information)|personally identifiable|real person|doxx|home address|phone number/,
          ),
      ],
      [
        R.SAFETY_FILTER,
        (e) =>
          has(
            e,
            'MODERATION_BLOCKED',
            'CONTENT_FILTER',
            'SAFETY_FILTER',
            'NSFW_CONTENT_DETECTED',
          ) || text(e, /safety (system|filter|checker)|moderation|content_filter|flagged/),
      ],
    ],
    fallback: R.POLICY_VIOLATION,
  },
  {
    type: T.VALIDATION_ERROR,
    label: 'Model not found',
    when: (e) =>
      has(e, 'MODEL_NOT_FOUND') ||
      text(
        e,
        /\bmodel\b[^\n]{0,80}(does not exist|not found|is not available|unknown)|no such model|unknown model|(ckpt|lora|vae|unet|clip|control_net|model)_name[^\n]{0,200}not in (\[|list)|value not in list[^\n]{0,60}(ckpt|lora|vae|unet|model)/,
      ),
    fallback: R.MODEL_NOT_FOUND,
  },
  {
    type: T.NETWORK_ERROR,
    label: 'Proxy error',
    when: (e) => status(e, 407) || text(e, /\bproxy\b/),
    fallback: R.PROXY_ERROR,
  },
  {
    type: T.AUTH_ERROR,
    label: 'Authentication failed',
    when: (e) =>
      status(e, 401, 403) ||
      has(
        e,
        'INVALID_API_KEY',
        'INVALID_AUTHENTICATION',
        'AUTHENTICATION_ERROR',
        'UNAUTHORIZED',
        'ACCOUNT_DEACTIVATED',
        'PERMISSION_DENIED',
        'PERMISSION_ERROR',
        'INSUFFICIENT_PERMISSIONS',
        'TOKEN_EXPIRED',
        'EXPIRED_TOKEN',
        'INVALID_TOKEN',
      ) ||
      text(
        e,
        /incorrect api key|invalid api key|api key (is )?(missing|required|not valid)|no api key provided|unauthori[sz]ed|authentication (failed|required|error)|token (has )?expired|expired token|account (has been )?(deactivated|suspended|disabled|banned)/,
      ),
    reasons: [
      [
        R.ACCOUNT_SUSPENDED,
        (e) =>
          has(e, 'ACCOUNT_DEACTIVATED') ||
          text(e, /deactivated|suspended|disabled|banned|billing[^\n]{0,30}not active/),
      ],
      [R.EXPIRED_TOKEN, (e) => has(e, 'TOKEN_EXPIRED', 'EXPIRED_TOKEN') || text(e, /expired/)],
      [
        R.INSUFFICIENT_PERMISSIONS,
        (e) =>
          status(e, 403) ||
          has(e, 'PERMISSION_DENIED', 'PERMISSION_ERROR', 'INSUFFICIENT_PERMISSIONS') ||
          text(
            e,
            /permission|not allowed|do(es)? not have access|don't have access|forbidden|missing scope|insufficient scope/,
          ),
      ],
    ],
    fallback: R.INVALID_API_KEY,
  },
  {
    type: T.RATE_LIMIT,
    label: 'Rate limited',
    when: (e) =>
      status(e, 429) ||
      has(
        e,
        'RATE_LIMIT_EXCEEDED',
        'RATE_LIMIT_ERROR',
        'INSUFFICIENT_QUOTA',
        'TOO_MANY_REQUESTS',
        'QUOTA_EXCEEDED',
        'RESOURCE_EXHAUSTED',
      ) ||
      status(e, 402) ||
      text(
        e,
        /rate limit|ratelimit|too many requests|exceeded your (current )?quota|quota (exceeded|exhausted|reached|has been (exceeded|reached))|insufficient_quota|requests per (min|day)|tokens per (min|day)|(daily|monthly) (limit|quota|usage limit|spending limit)|(spending|usage|billing) (hard )?limit|hard limit|insufficient (credits?|balance|funds)|out of credits|credit balance|payment required/,
      ),
    reasons: [
      [
        R.DAILY_QUOTA_EXCEEDED,
        (e) =>
          text(
            e,
            /per day|daily|\brpd\b|\btpd\b|for today|today's|resets (at|in) [^\n]{0,20}(utc|midnight)/,
          ),
      ],
      [
        R.API_QUOTA_EXCEEDED,
        (e) =>
          has(e, 'INSUFFICIENT_QUOTA') ||
          status(e, 402) ||
          text(
            e,
            /insufficient_quota|exceeded your (current )?quota|billing|credit|funds|balance|payment|month|spending|plan\b|hard limit/,
          ),
      ],
      [R.TOKENS_PER_MINUTE, (e) => text(e, /tokens per min|\btpm\b/)],
      [R.CONCURRENT_REQUESTS, (e) => text(e, /concurren|simultaneous|in-flight|parallel requests/)],
    ],
    fallback: R.REQUESTS_PER_MINUTE,
  },
  {
    type: T.RESOURCE_LIMIT,
    label: 'Resource limit reached',
    when: (e) =>
      has(
        e,
        'ENOSPC',
        'ENOMEM',
        'EDQUOT',
        'OUTOFMEMORYERROR',
        'TORCH.OUTOFMEMORYERROR',
        'TORCH.CUDA.OUTOFMEMORYERROR',
      ) ||
      text(
        e,
        /out of memory|outofmemoryerror|allocation on device|cudnn_status_alloc_failed|cublas_status_alloc_failed|insufficient (gpu memory|vram)|no space left on device|disk (is )?full|disk quota exceeded|cannot allocate memory|memoryerror|\boom\b|oom[- ]?kill|(insufficient|not enough|ran out of|low on) (system |host |available )?(memory|ram)|memory limit (exceeded|reached)|exceeded (the |its )?memory limit|heap limit|(maximum|max) (number of )?concurrent (jobs|tasks|executions|generations)|at capacity|capacity exceeded/,
      ),
    reasons: [
      [
        R.GPU_MEMORY_FULL,
        (e) =>
          text(
            e,
            /cuda|gpu|vram|allocation on device|cudnn|cublas|hip out of memory|mps backend|torch\.(cuda\.)?outofmemory/,
          ),
      ],
      [
        R.DISK_SPACE_FULL,
        (e) => has(e, 'ENOSPC', 'EDQUOT') || text(e, /no space left|disk (is )?full|disk quota/),
      ],
      [R.CONCURRENT_LIMIT, (e) => text(e, /concurrent|at capacity|capacity exceeded/)],
    ],
    fallback: R.OUT_OF_MEMORY,
  },
  {
    type: T.SYSTEM_ERROR,
    label: 'GPU error',
    when: (e) =>
      text(
        e,
        /cuda error|cuda driver|cudnn_status|cublas_status|device-side assert|no cuda gpus|illegal memory access|nvidia-smi|nccl error|gpu (has )?fallen off|\bxid\b/,
      ),
    fallback: R.GPU_ERROR,
  },
  {
    type: T.NETWORK_ERROR,
    label: 'TLS certificate rejected',
    when: (e) =>
      has(e, ...TLS_CODES) ||
      e.codes.has('ERR_SSL') ||
      [...e.codes].some((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_')) ||
      text(e, /certificate|self[- ]signed|ssl routines|tls handshake/),
    fallback: R.SSL_CERTIFICATE,
  },
  {
    type: T.NETWORK_ERROR,
    label: 'DNS lookup failed',
    when: (e) =>
      has(e, 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL') ||
      text(
        e,
        /getaddrinfo|name or service not known|could not resolve host|dns (lookup|resolution)/,
      ),
    fallback: R.DNS_RESOLUTION,
  },
  {
    type: T.TIMEOUT,
    label: 'Timed out',
    when: (e) =>
      has(e, ...TIMEOUT_CODES) ||
      status(e, 408, 504, 524) ||
      text(
        e,
        /timed? ?out|timeout|deadline (exceeded|of)|exceeded (its|the) deadline|took too long|ran out of time/,
      ),
    reasons: DEADLINE_REASONS,
    fallback: R.PROCESSING_TIMEOUT,
  },
  {
    type: T.NETWORK_ERROR,
    label: 'Connection failed',
    when: (e) =>
      has(e, ...CONNECTION_CODES) ||
      text(
        e,
        /socket hang up|fetch failed|other side closed|connection (was )?(refused|reset|closed|aborted|lost)|network (error|is unreachable)|premature close|econnreset|econnrefused/,
      ),
    fallback: R.CONNECTION_FAILED,
  },
  {
    type: T.SYSTEM_ERROR,
    label: 'Configuration error',
    when: (e) =>
      has(e, 'CONFIG_ERROR', 'ERR_INVALID_CONFIG') ||
      text(
        e,
        /not configured|configuration (error|is missing|invalid)|invalid configuration|missing (required )?(env|environment variable|configuration)/,
      ),
    fallback: R.CONFIG_ERROR,
  },
  {
    type: T.SYSTEM_ERROR,
    label: 'Missing dependency',
    when: (e) =>
      has(
        e,
        'ERR_MODULE_NOT_FOUND',
        'MODULE_NOT_FOUND',
        'MODULENOTFOUNDERROR',
        'DEPENDENCY_ERROR',
      ) ||
      text(
        e,
        /cannot find module|modulenotfounderror|no module named|importerror|missing dependency|node [^\n]{1,80} does not exist|custom node[^\n]{0,40}(missing|not (found|installed))/,
      ),
    fallback: R.DEPENDENCY_ERROR,
  },
  {
    type: T.RESPONSE_ERROR,
    label: 'Unusable response',
    when: (e) =>
      has(
        e,
        'INVALID_RESPONSE_FORMAT',
        'UNEXPECTED_CONTENT_TYPE',
        'CORRUPTED_DATA',
        'MISSING_EXPECTED_DATA',
      ) ||
      (okOrNoStatus(e) &&
        text(
          e,
          /unexpected token[^\n]*json|json at position|is not valid json|invalid json( response| body)?|malformed (json|response)|unexpected end of (json|data|input)|json\.parse|(could not|cannot|can'?t|failed to|unable to) (parse|decode)[^\n]{0,40}(json|response|body|reply)|unexpected content[- ]type|invalid content[- ]type|expected application\/json|(received|got|returned) (text\/html|html)|corrupt|checksum mismatch|truncated|incomplete (data|download|response)|no (outputs?|images?|choices|data) (in|returned|found|produced)|missing (expected )?(output|data)|empty response/,
        )),
    reasons: [
      [
        R.UNEXPECTED_CONTENT_TYPE,
        (e) =>
          has(e, 'UNEXPECTED_CONTENT_TYPE') ||
          text(e, /content[- ]type|expected application\/json/),
      ],
      [
        R.CORRUPTED_DATA,
        (e) =>
          has(e, 'CORRUPTED_DATA') ||
          text(e, /corrupt|checksum mismatch|truncated|incomplete (data|download)/),
      ],
      [
        R.MISSING_EXPECTED_DATA,
        (e) =>
          has(e, 'MISSING_EXPECTED_DATA') ||
          text(
            e,
            /no (outputs?|images?|choices|data)|missing (expected )?(output|data)|empty response/,
          ),
      ],
    ],
    fallback: R.INVALID_RESPONSE_FORMAT,
  },
  {
    type: T.VALIDATION_ERROR,
    label: 'Component failed',
    when: (e) =>
      has(e, 'COMPONENT_ERROR', 'EXECUTION_ERROR') ||
      text(
        e,
        /execution_error|error in component|component [^\n]{1,80} (failed|raised|threw)|exception (in|during) (node|component)|error occurred when executing/,
      ),
    fallback: R.COMPONENT_ERROR,
  },
  {
    type: T.VALIDATION_ERROR,
    label: 'Invalid request',
    when: (e) =>
      status(e, 400, 404, 405, 409, 413, 415, 422, 501) ||
      has(
        e,
        'INVALID_REQUEST_ERROR',
        'INVALID_VALUE',
        'INVALID_PAYLOAD',
        'MISSING_REQUIRED_PARAMETER',
        'REQUIRED_INPUT_MISSING',
        'PROMPT_OUTPUTS_FAILED_VALIDATION',
        'INVALID_PROMPT',
        'CONTEXT_LENGTH_EXCEEDED',
        'INVALID_IMAGE_FORMAT',
        'UNSUPPORTED_OPERATION',
        'ERR_INVALID_ARG_TYPE',
        'ZODERROR',
      ) ||
      text(
        e,
        /invalid (request|payload|parameter|value|input)|bad request|validation (failed|error)|failed validation|missing required|is required|required input is missing|unsupported|not supported|not implemented|maximum context length/,
      ),
    reasons: [
      [
        R.MISSING_REQUIRED_FIELD,
        (e) =>
          has(e, 'MISSING_REQUIRED_PARAMETER', 'REQUIRED_INPUT_MISSING') ||
          text(
            e,
            /missing required|required (field|parameter|property|input)[^\n]{0,20}missing|is required|must be provided|required input is missing/,
          ),
      ],
      [
        R.INVALID_FORMAT,
        (e) =>
          status(e, 415) ||
          has(e, 'INVALID_IMAGE_FORMAT', 'INVALID_FILE_FORMAT') ||
          text(
            e,
            /invalid (image |file |audio )?format|unsupported (image|file|media|audio) (type|format)|could not decode|invalid base64|not a valid (png|jpe?g|image|json)|unsupported media type/,
          ),
      ],
      [
        R.UNSUPPORTED_OPERATION,
        (e) =>
          status(e, 404, 405, 501) ||
          has(e, 'UNSUPPORTED_OPERATION') ||
          text(e, /not supported|unsupported|not implemented|unknown (endpoint|url)|invalid url/),
      ],
    ],
    fallback: R.INVALID_PAYLOAD,
  },
  {
    type: T.SERVICE_ERROR,
    label: 'Upstream service error',
    when: (e) =>
      (e.status !== undefined && e.status >= 500) ||
      has(
        e,
        'SERVER_ERROR',
        'SERVICE_UNAVAILABLE',
        'OVERLOADED_ERROR',
        'INTERNAL_SERVER_ERROR',
        'API_ERROR',
      ) ||
      text(
        e,
        /service unavailable|temporarily unavailable|bad gateway|internal server error|server error|upstream connect error|under maintenance|maintenance mode|overloaded|is down\b|currently unavailable/,
      ),
    reasons: [
      [R.MAINTENANCE_MODE, (e) => text(e, /maintenance/)],
      [
        R.DEGRADED_PERFORMANCE,
        (e) => status(e, 529) || text(e, /overloaded|degraded|high (load|demand)|slow down/),
      ],
      [
        R.SERVICE_DOWN,
        (e) =>
          status(e, 502, 520, 521, 522, 523) ||
          text(e, /bad gateway|is down\b|upstream connect error|no healthy upstream/),
      ],
      [R.INTERNAL_ERROR, (e) => status(e, 500) || text(e, /internal server error|server_error/)],
    ],
    fallback: R.SERVICE_UNAVAILABLE,
  },
  {
    type: T.SYSTEM_ERROR,
    label: 'Internal error',
    when: (e) =>
      has(e, 'INTERNAL_ERROR', 'ERR_ASSERTION') ||
      text(
        e,
        /internal error|typeerror|referenceerror|rangeerror|assertion|cannot read propert|is not a function|unexpected error/,
      ),
    fallback: R.INTERNAL_ERROR,
  },
  {
    type: T.VALIDATION_ERROR,
    label: 'Request rejected',
    when: (e) => e.status !== undefined && e.status >= 400 && e.status < 500,
    fallback: R.INVALID_PAYLOAD,
  },
];

const MAX_DESCRIPTION = 1_000;

function describe(
  label: string,
  e: Evidence,
  context: FailureContext,
  retryAfterMs: number | undefined,
): string {
  const where = [context.serviceType, e.status !== undefined ? `HTTP ${e.status}` : undefined]
    .filter(Boolean)
    .join(', ');
  const head = where ? `${label} (${where})` : label;
  const body = e.messages.slice(0, 4).join(' <- ').replace(/\s+/g, ' ').trim();
  const tail: string[] = [];
  if (e.requestId) tail.push(`request id ${e.requestId}`);
  if (retryAfterMs !== undefined) tail.push(`retry after ${Math.ceil(retryAfterMs / 100) / 10} s`);
  const suffix = tail.length > 0 ? ` [${tail.join('; ')}]` : '';
  // Truncate the message, never the request id: that is what support asks the provider about.
  const room = Math.max(40, MAX_DESCRIPTION - head.length - suffix.length - 2);
  const redacted = redactSecrets(body);
  const clipped = redacted.length > room ? `${redacted.slice(0, room - 1)}…` : redacted;
  return redactSecrets(`${head}${clipped ? `: ${clipped}` : ''}${suffix}`);
}

function classify(error: unknown, context: FailureContext = {}): FailureClassification {
  const e = gatherEvidence(error, context);
  let type = T.SYSTEM_ERROR;
  let reason = R.UNKNOWN_ERROR;
  let label = 'Unknown failure';
  for (const rule of RULES) {
    if (!rule.when(e)) continue;
    type = rule.type;
    reason = rule.reasons?.find(([, test]) => test(e))?.[0] ?? rule.fallback;
    label = rule.label;
    break;
  }
  const retryable = isRetryable(type, reason);
  const retryAfterMs = retryable ? retryAfterFrom(e.headers, e.messages.join('\n')) : undefined;
  const result: FailureClassification = {
    failure_type: type,
    failure_reason: reason,
    failure_description: describe(label, e, context, retryAfterMs),
    retryable,
  };
  if (retryAfterMs !== undefined) result.retry_after_ms = retryAfterMs;
  return result;
}

/**
 * Turns whatever a connector saw (an Error with causes, a provider error body, a ComfyUI history
 * entry, a bare message) into one shared classification. Pure: no I/O, no clock except for
 * HTTP-date Retry-After values.
 */
export const FailureClassifier = { classify } as const;
