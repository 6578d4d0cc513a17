import { describe, expect, it } from 'vitest';
import { FailureClassifier, isRetryable } from './classifier.js';
import { FailureReason as R, FailureType as T, type FailureContext } from './types.js';

function sysError(message: string, code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

interface Case {
  name: string;
  error: unknown;
  context?: FailureContext;
  type: T;
  reason: R;
  retryable: boolean;
  retryAfterMs?: number;
  description?: RegExp;
}

const openaiError = (
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
) => ({
  error: { message, type, param, code },
});

const comfyHistoryError = (
  exceptionType: string,
  exceptionMessage: string,
  nodeType = 'KSampler',
) => ({
  'a1b2c3d4-0000-4000-8000-000000000001': {
    prompt: [],
    outputs: {},
    status: {
      status_str: 'error',
      completed: false,
      messages: [
        ['execution_start', { prompt_id: 'a1b2c3d4-0000-4000-8000-000000000001', timestamp: 1 }],
        [
          'execution_error',
          {
            prompt_id: 'a1b2c3d4-0000-4000-8000-000000000001',
            node_id: '3',
            node_type: nodeType,
            exception_message: exceptionMessage,
            exception_type: exceptionType,
            traceback: ['  File "/comfy/execution.py", line 151, in recursive_execute\n'],
          },
        ],
      ],
    },
  },
});

const CASES: Case[] = [
  // generation_refusal
  {
    name: 'OpenAI image moderation_blocked inside an HTTP 200 async result keeps the request id',
    error: 'image generation failed',
    context: {
      serviceType: 'openai',
      httpStatus: 200,
      responseData: {
        id: 'resp_68a1f0c2d4e8',
        status: 'failed',
        error: {
          code: 'moderation_blocked',
          message:
            'Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID req_9f8e7d6c5b4a3921.',
        },
      },
    },
    type: T.GENERATION_REFUSAL,
    reason: R.SAFETY_FILTER,
    retryable: false,
    description: /openai, HTTP 200.*rejected by the safety system.*req_9f8e7d6c5b4a3921/,
  },
  {
    name: 'DALL-E content_policy_violation about violence',
    error: openaiError(
      'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system: graphic violence.',
      'invalid_request_error',
      'content_policy_violation',
    ),
    context: { httpStatus: 400 },
    type: T.GENERATION_REFUSAL,
    reason: R.VIOLENCE_DETECTED,
    retryable: false,
  },
  {
    name: 'copyright refusal',
    error: openaiError(
      'This request has been blocked by our content filters because it may violate copyright of third-party content.',
      'invalid_request_error',
      'content_policy_violation',
    ),
    context: { httpStatus: 400 },
    type: T.GENERATION_REFUSAL,
    reason: R.COPYRIGHT_BLOCKER,
    retryable: false,
  },
  {
    name: 'NSFW from a Stable Diffusion safety checker',
    error: 'NSFW content detected by safety checker; image replaced with a black image',
    type: T.GENERATION_REFUSAL,
    reason: R.NSFW_CONTENT,
    retryable: false,
  },
  {
    name: 'hate speech flag',
    error: {
      error: {
        code: 'content_filter',
        message:
          'The response was filtered due to the prompt triggering content management policy: hate (severity: high).',
      },
    },
    type: T.GENERATION_REFUSAL,
    reason: R.HATE_SPEECH,
    retryable: false,
  },
  {
    name: 'personal info',
    error:
      'Request blocked by content policy: generating images of a real person or private individual is not allowed',
    type: T.GENERATION_REFUSAL,
    reason: R.PERSONAL_INFO,
    retryable: false,
  },
  {
    name: 'generic usage policy violation',
    error: openaiError(
      'This request may violate our usage policies.',
      'invalid_request_error',
      null,
    ),
    context: { httpStatus: 400 },
    type: T.GENERATION_REFUSAL,
    reason: R.POLICY_VIOLATION,
    retryable: false,
  },
  // auth_error
  {
    name: 'OpenAI 401 incorrect key, with the key echoed back (redacted)',
    error: openaiError(
      'Incorrect API key provided: sk-proj-abc123def456ghi789. You can find your API key at https://platform.openai.com/account/api-keys.',
      'invalid_request_error',
      'invalid_api_key',
    ),
    context: { httpStatus: 401, serviceType: 'openai' },
    type: T.AUTH_ERROR,
    reason: R.INVALID_API_KEY,
    retryable: false,
    description:
      /^Authentication failed \(openai, HTTP 401\): Incorrect API key provided: sk-\*\*\*/,
  },
  {
    name: 'expired token',
    error: 'HTTP 401: {"error":"invalid_token","error_description":"The access token expired"}',
    context: { httpStatus: 401 },
    type: T.AUTH_ERROR,
    reason: R.EXPIRED_TOKEN,
    retryable: false,
  },
  {
    name: '403 permissions',
    error: openaiError(
      'You have insufficient permissions for this operation. Missing scopes: model.request.',
      'invalid_request_error',
      null,
    ),
    context: { httpStatus: 403 },
    type: T.AUTH_ERROR,
    reason: R.INSUFFICIENT_PERMISSIONS,
    retryable: false,
  },
  {
    name: 'deactivated account',
    error: openaiError(
      'Your account is not active, please check your billing details on our website.',
      'billing_not_active',
      'account_deactivated',
    ),
    context: { httpStatus: 401 },
    type: T.AUTH_ERROR,
    reason: R.ACCOUNT_SUSPENDED,
    retryable: false,
  },
  // rate_limit
  {
    name: '429 requests per minute with Retry-After header',
    error: openaiError(
      'Rate limit reached for gpt-4o in organization org-abc on requests per min (RPM): Limit 500, Used 500, Requested 1.',
      'requests',
      'rate_limit_exceeded',
    ),
    context: { httpStatus: 429, headers: { 'Retry-After': '7' } },
    type: T.RATE_LIMIT,
    reason: R.REQUESTS_PER_MINUTE,
    retryable: true,
    retryAfterMs: 7_000,
    description: /retry after 7 s/,
  },
  {
    name: '429 tokens per minute, delay taken from the message',
    error: openaiError(
      'Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2.5s.',
      'tokens',
      'rate_limit_exceeded',
    ),
    context: { httpStatus: 429 },
    type: T.RATE_LIMIT,
    reason: R.TOKENS_PER_MINUTE,
    retryable: true,
    retryAfterMs: 2_500,
  },
  {
    name: 'insufficient_quota is a 429 that retrying cannot fix',
    error: openaiError(
      'You exceeded your current quota, please check your plan and billing details.',
      'insufficient_quota',
      'insufficient_quota',
    ),
    context: { httpStatus: 429, headers: { 'retry-after': '20' } },
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
    retryable: false,
  },
  {
    name: 'daily quota',
    error: 'Rate limit reached for dall-e-3 on requests per day (RPD): Limit 200, Used 200',
    context: { httpStatus: 429 },
    type: T.RATE_LIMIT,
    reason: R.DAILY_QUOTA_EXCEEDED,
    retryable: false,
  },
  {
    name: 'too many concurrent requests with retry-after-ms',
    error: 'Too many concurrent requests for this model',
    context: { httpStatus: 429, headers: { 'retry-after-ms': '1500' } },
    type: T.RATE_LIMIT,
    reason: R.CONCURRENT_REQUESTS,
    retryable: true,
    retryAfterMs: 1_500,
  },
  // resource_limit
  {
    name: 'CUDA OOM from a ComfyUI history entry',
    error: 'ComfyUI prompt failed',
    context: {
      serviceType: 'comfyui',
      responseData: comfyHistoryError(
        'torch.OutOfMemoryError',
        'CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.12 GiB is free.',
      ),
    },
    type: T.RESOURCE_LIMIT,
    reason: R.GPU_MEMORY_FULL,
    retryable: true,
    description: /CUDA out of memory/,
  },
  {
    name: 'OOM nested two component wrappers deep',
    error: new Error('Error in component "upscale": node 12 failed', {
      cause: new Error('Error occurred when executing UltimateSDUpscale', {
        cause: new Error('Allocation on device 0 would exceed allowed memory. (out of memory)'),
      }),
    }),
    type: T.RESOURCE_LIMIT,
    reason: R.GPU_MEMORY_FULL,
    retryable: true,
  },
  {
    name: 'disk full',
    error: sysError("ENOSPC: no space left on device, write '/comfy/output/x.png'", 'ENOSPC'),
    type: T.RESOURCE_LIMIT,
    reason: R.DISK_SPACE_FULL,
    retryable: true,
  },
  {
    name: 'host memory',
    error: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
    retryable: true,
  },
  {
    name: 'concurrency cap',
    error: 'Maximum concurrent jobs reached on this worker (4)',
    type: T.RESOURCE_LIMIT,
    reason: R.CONCURRENT_LIMIT,
    retryable: true,
  },
  // network_error
  {
    name: 'ENOTFOUND',
    error: sysError('getaddrinfo ENOTFOUND api.openai.invalid', 'ENOTFOUND', {
      hostname: 'api.openai.invalid',
    }),
    type: T.NETWORK_ERROR,
    reason: R.DNS_RESOLUTION,
    retryable: true,
  },
  {
    name: 'fetch failed wrapping ECONNRESET',
    error: new TypeError('fetch failed', { cause: sysError('read ECONNRESET', 'ECONNRESET') }),
    type: T.NETWORK_ERROR,
    reason: R.CONNECTION_FAILED,
    retryable: true,
  },
  {
    name: 'ECONNREFUSED',
    error: sysError('connect ECONNREFUSED 127.0.0.1:8188', 'ECONNREFUSED'),
    type: T.NETWORK_ERROR,
    reason: R.CONNECTION_FAILED,
    retryable: true,
  },
  {
    name: 'socket hang up',
    error: sysError('socket hang up', 'ECONNRESET'),
    type: T.NETWORK_ERROR,
    reason: R.CONNECTION_FAILED,
    retryable: true,
  },
  {
    name: 'expired certificate',
    error: new TypeError('fetch failed', {
      cause: sysError('certificate has expired', 'CERT_HAS_EXPIRED'),
    }),
    type: T.NETWORK_ERROR,
    reason: R.SSL_CERTIFICATE,
    retryable: false,
  },
  {
    name: 'self-signed certificate',
    error: sysError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'),
    type: T.NETWORK_ERROR,
    reason: R.SSL_CERTIFICATE,
    retryable: false,
  },
  {
    name: 'proxy 407',
    error: 'Proxy Authentication Required',
    context: { httpStatus: 407 },
    type: T.NETWORK_ERROR,
    reason: R.PROXY_ERROR,
    retryable: true,
  },
  // timeout
  {
    name: 'ETIMEDOUT',
    error: sysError('connect ETIMEDOUT 10.0.0.5:443', 'ETIMEDOUT'),
    type: T.NETWORK_ERROR,
    reason: R.NETWORK_TIMEOUT,
    retryable: true,
  },
  {
    name: 'our request deadline',
    error: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
    context: { timeout: true, serviceType: 'openai' },
    type: T.TIMEOUT,
    reason: R.PROCESSING_TIMEOUT,
    retryable: true,
  },
  {
    name: 'gateway timeout',
    error: '<html><body><h1>504 Gateway Time-out</h1></body></html>',
    context: { httpStatus: 504 },
    type: T.TIMEOUT,
    reason: R.PROCESSING_TIMEOUT,
    retryable: true,
  },
  {
    name: 'job deadline',
    error: 'Job exceeded its maximum duration of 600000 ms',
    context: { timeout: true },
    type: T.TIMEOUT,
    reason: R.JOB_TIMEOUT,
    retryable: true,
  },
  {
    name: 'queue wait',
    error: 'Timed out waiting in the ComfyUI queue for 300 s',
    type: T.TIMEOUT,
    reason: R.QUEUE_TIMEOUT,
    retryable: true,
  },
  // service_error
  {
    name: '503',
    error: openaiError('The server is overloaded or not ready yet.', 'server_error', null),
    context: { httpStatus: 503 },
    type: T.SERVICE_ERROR,
    reason: R.DEGRADED_PERFORMANCE,
    retryable: true,
  },
  {
    name: '503 plain',
    error: 'Service Unavailable',
    context: { httpStatus: 503 },
    type: T.SERVICE_ERROR,
    reason: R.SERVICE_UNAVAILABLE,
    retryable: true,
  },
  {
    name: '500',
    error: openaiError(
      'The server had an error while processing your request. Sorry about that!',
      'server_error',
      null,
    ),
    context: { httpStatus: 500 },
    type: T.SERVICE_ERROR,
    reason: R.INTERNAL_ERROR,
    retryable: true,
  },
  {
    name: '502',
    error: '<html>502 Bad Gateway</html>',
    context: { httpStatus: 502 },
    type: T.SERVICE_ERROR,
    reason: R.SERVICE_DOWN,
    retryable: true,
  },
  {
    name: 'maintenance',
    error: 'API is under maintenance, back soon',
    context: { httpStatus: 503, headers: { 'retry-after': 'Wed, 21 Oct 2099 07:28:00 GMT' } },
    type: T.SERVICE_ERROR,
    reason: R.MAINTENANCE_MODE,
    retryable: true,
  },
  // validation_error
  {
    name: 'model not found (OpenAI 404)',
    error: openaiError(
      'The model `gpt-9` does not exist or you do not have access to it.',
      'invalid_request_error',
      'model_not_found',
    ),
    context: { httpStatus: 404 },
    type: T.VALIDATION_ERROR,
    reason: R.MODEL_NOT_FOUND,
    retryable: false,
  },
  {
    name: 'ComfyUI checkpoint not installed',
    error: {
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details: '',
        extra_info: {},
      },
      node_errors: {
        '4': {
          errors: [
            {
              type: 'value_not_in_list',
              message: 'Value not in list',
              details: "ckpt_name: 'sdxl_turbo.safetensors' not in ['v1-5-pruned.safetensors']",
            },
          ],
          class_type: 'CheckpointLoaderSimple',
        },
      },
    },
    context: { httpStatus: 400, serviceType: 'comfyui' },
    type: T.VALIDATION_ERROR,
    reason: R.MODEL_NOT_FOUND,
    retryable: false,
    description: /sdxl_turbo\.safetensors/,
  },
  {
    name: 'missing required parameter',
    error: openaiError(
      "Missing required parameter: 'messages'.",
      'invalid_request_error',
      'missing_required_parameter',
      'messages',
    ),
    context: { httpStatus: 400 },
    type: T.VALIDATION_ERROR,
    reason: R.MISSING_REQUIRED_FIELD,
    retryable: false,
  },
  {
    name: 'invalid image format',
    error: openaiError(
      'Invalid image format. Supported formats are: png, jpeg, webp.',
      'invalid_request_error',
      'invalid_image_format',
    ),
    context: { httpStatus: 400 },
    type: T.VALIDATION_ERROR,
    reason: R.INVALID_FORMAT,
    retryable: false,
  },
  {
    name: 'unsupported operation',
    error: 'This model does not support image inputs: not supported',
    context: { httpStatus: 400 },
    type: T.VALIDATION_ERROR,
    reason: R.UNSUPPORTED_OPERATION,
    retryable: false,
  },
  {
    name: 'bad request payload',
    error: openaiError(
      "Invalid value for 'temperature': expected a number.",
      'invalid_request_error',
      'invalid_value',
    ),
    context: { httpStatus: 400 },
    type: T.VALIDATION_ERROR,
    reason: R.INVALID_PAYLOAD,
    retryable: false,
  },
  {
    name: 'ComfyUI node exception',
    error: 'ComfyUI prompt failed',
    context: {
      responseData: comfyHistoryError(
        'ValueError',
        'height must be a multiple of 8',
        'EmptyLatentImage',
      ),
    },
    type: T.VALIDATION_ERROR,
    reason: R.COMPONENT_ERROR,
    retryable: false,
    description: /height must be a multiple of 8/,
  },
  // response_error
  {
    name: 'HTML instead of JSON',
    error: new SyntaxError('Unexpected token < in JSON at position 0'),
    context: { httpStatus: 200 },
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
    retryable: true,
  },
  {
    name: 'wrong content type',
    error: 'Unexpected content-type text/html from /v1/chat/completions',
    context: { httpStatus: 200 },
    type: T.RESPONSE_ERROR,
    reason: R.UNEXPECTED_CONTENT_TYPE,
    retryable: true,
  },
  {
    name: 'truncated output',
    error: 'Output image is truncated (got 1024 of 88113 bytes)',
    type: T.RESPONSE_ERROR,
    reason: R.CORRUPTED_DATA,
    retryable: true,
  },
  {
    name: 'no outputs',
    error: 'Prompt finished but no images found in the history outputs',
    type: T.RESPONSE_ERROR,
    reason: R.MISSING_EXPECTED_DATA,
    retryable: true,
  },
  // system_error
  {
    name: 'CUDA driver error',
    error: 'RuntimeError: CUDA error: an illegal memory access was encountered',
    type: T.SYSTEM_ERROR,
    reason: R.GPU_ERROR,
    retryable: true,
  },
  {
    name: 'missing custom node',
    error: {
      error: {
        type: 'invalid_prompt',
        message: 'Cannot execute because node IPAdapterApply does not exist.',
        details: "Node ID '#7'",
      },
    },
    context: { httpStatus: 400 },
    type: T.SYSTEM_ERROR,
    reason: R.DEPENDENCY_ERROR,
    retryable: false,
  },
  {
    name: 'python module missing',
    error: "ModuleNotFoundError: No module named 'insightface'",
    type: T.SYSTEM_ERROR,
    reason: R.DEPENDENCY_ERROR,
    retryable: false,
  },
  {
    name: 'config',
    error: 'OpenAI connector is not configured: OPENAI_API_KEY is missing',
    type: T.SYSTEM_ERROR,
    reason: R.CONFIG_ERROR,
    retryable: false,
  },
  {
    name: 'programming error',
    error: new TypeError("Cannot read properties of undefined (reading 'images')"),
    type: T.SYSTEM_ERROR,
    reason: R.INTERNAL_ERROR,
    retryable: true,
  },
  {
    name: 'anything else',
    error: 'the flux capacitor hiccupped',
    type: T.SYSTEM_ERROR,
    reason: R.UNKNOWN_ERROR,
    retryable: true,
  },
];

describe('FailureClassifier.classify', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = FailureClassifier.classify(c.error, c.context);
    expect({
      type: result.failure_type,
      reason: result.failure_reason,
      retryable: result.retryable,
    }).toEqual({
      type: c.type,
      reason: c.reason,
      retryable: c.retryable,
    });
    if (c.retryAfterMs !== undefined) expect(result.retry_after_ms).toBe(c.retryAfterMs);
    if (c.description) expect(result.failure_description).toMatch(c.description);
    expect(result.failure_description.length).toBeGreaterThan(0);
    expect(result.failure_description.length).toBeLessThanOrEqual(1_000);
  });

  it('covers every failure type and every reason', () => {
    const types = new Set(CASES.map((c) => c.type));
    const reasons = new Set(CASES.map((c) => c.reason));
    expect([...types].sort()).toEqual(Object.values(T).sort());
    expect([...reasons].sort()).toEqual(Object.values(R).sort());
  });

  it('reads Retry-After given as an HTTP date', () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const result = FailureClassifier.classify('Too Many Requests', {
      httpStatus: 429,
      headers: { 'retry-after': at },
    });
    expect(result.retry_after_ms).toBeGreaterThan(25_000);
    expect(result.retry_after_ms).toBeLessThanOrEqual(30_000);
  });

  it('never offers a retry delay for a permanent failure', () => {
    const result = FailureClassifier.classify('Unauthorized', {
      httpStatus: 401,
      headers: { 'retry-after': '5' },
    });
    expect(result.retryable).toBe(false);
    expect(result).not.toHaveProperty('retry_after_ms');
  });

  it('takes the request id from the x-request-id header and a Headers object', () => {
    const headers = new Headers({ 'x-request-id': 'req_abc123456789', 'retry-after': '3' });
    const error = Object.assign(new Error('429 Rate limit reached'), { status: 429, headers });
    const result = FailureClassifier.classify(error, { serviceType: 'openai' });
    expect(result.failure_type).toBe(T.RATE_LIMIT);
    expect(result.retry_after_ms).toBe(3_000);
    expect(result.failure_description).toContain('request id req_abc123456789');
  });

  it('keeps the request id when a huge message must be truncated', () => {
    const result = FailureClassifier.classify('x'.repeat(5_000), {
      httpStatus: 500,
      requestId: 'req_keepme',
    });
    expect(result.failure_description.length).toBeLessThanOrEqual(1_000);
    expect(result.failure_description).toContain('req_keepme');
  });

  it('never leaks secrets from any part of the error into the description', () => {
    const error = new Error(
      'request to https://svc:hunter2@api.example.com/v1?api_key=abc123secret failed',
      {
        cause: new Error(
          'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlX2hlcmU and sk-live-0123456789abcdef',
        ),
      },
    );
    const { failure_description: d } = FailureClassifier.classify(error, { httpStatus: 500 });
    for (const secret of ['hunter2', 'abc123secret', 'eyJhbGciOiJIUzI1NiJ9', '0123456789abcdef'])
      expect(d).not.toContain(secret);
    expect(d).toContain('api.example.com');
  });

  it('survives odd input without throwing', () => {
    const circular: Record<string, unknown> = { message: 'loop' };
    circular.self = circular;
    circular.error = circular;
    for (const input of [undefined, null, 42, '', {}, [], circular, Symbol('x')]) {
      const result = FailureClassifier.classify(input);
      expect(Object.values(T)).toContain(result.failure_type);
    }
  });
});

describe('isRetryable', () => {
  it('follows the type, except for reasons only an operator can fix', () => {
    expect(isRetryable(T.RATE_LIMIT, R.REQUESTS_PER_MINUTE)).toBe(true);
    expect(isRetryable(T.RATE_LIMIT, R.API_QUOTA_EXCEEDED)).toBe(false);
    expect(isRetryable(T.NETWORK_ERROR, R.CONNECTION_FAILED)).toBe(true);
    expect(isRetryable(T.NETWORK_ERROR, R.SSL_CERTIFICATE)).toBe(false);
    expect(isRetryable(T.AUTH_ERROR, R.INVALID_API_KEY)).toBe(false);
    expect(isRetryable(T.GENERATION_REFUSAL, R.SAFETY_FILTER)).toBe(false);
    expect(isRetryable(T.VALIDATION_ERROR, R.MODEL_NOT_FOUND)).toBe(false);
    expect(isRetryable(T.TIMEOUT, R.JOB_TIMEOUT)).toBe(true);
    expect(isRetryable(T.SERVICE_ERROR, R.SERVICE_UNAVAILABLE)).toBe(true);
  });
});

/** What every code a connector can see means: `[code, type, reason, label]`; the message says nothing. */
const CODES: Array<[string, T, R, string]> = [
  ...(
    [
      ['MODERATION_BLOCKED', R.SAFETY_FILTER],
      ['CONTENT_POLICY_VIOLATION', R.POLICY_VIOLATION],
      ['CONTENT_FILTER', R.SAFETY_FILTER],
      ['SAFETY_VIOLATION', R.POLICY_VIOLATION],
      ['RESPONSIBLE_AI_POLICY_VIOLATION', R.POLICY_VIOLATION],
      ['CONTENT_POLICY', R.POLICY_VIOLATION],
      ['POLICY_VIOLATION', R.POLICY_VIOLATION],
      ['SAFETY_FILTER', R.SAFETY_FILTER],
      ['NSFW_CONTENT_DETECTED', R.SAFETY_FILTER],
      ['REFUSAL', R.POLICY_VIOLATION],
    ] as const
  ).map(
    ([code, reason]) =>
      [code, T.GENERATION_REFUSAL, reason, 'Generation refused by the provider'] as [
        string,
        T,
        R,
        string,
      ],
  ),
  ...[
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
    'ERR_SSL',
    'ERR_SSL_DECRYPTION_FAILED',
    'ERR_TLS_HANDSHAKE_TIMEOUT',
  ].map(
    (code) =>
      [code, T.NETWORK_ERROR, R.SSL_CERTIFICATE, 'TLS certificate rejected'] as [
        string,
        T,
        R,
        string,
      ],
  ),
  ...[
    'ETIMEDOUT',
    'ESOCKETTIMEDOUT',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'ERR_SOCKET_CONNECTION_TIMEOUT',
  ].map(
    (code) =>
      [code, T.NETWORK_ERROR, R.NETWORK_TIMEOUT, 'Network timeout'] as [string, T, R, string],
  ),
  ['TIMEOUT', T.TIMEOUT, R.PROCESSING_TIMEOUT, 'Timed out'],
  ...[
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
  ].map(
    (code) =>
      [code, T.NETWORK_ERROR, R.CONNECTION_FAILED, 'Connection failed'] as [string, T, R, string],
  ),
  ...['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL'].map(
    (code) =>
      [code, T.NETWORK_ERROR, R.DNS_RESOLUTION, 'DNS lookup failed'] as [string, T, R, string],
  ),
  ['MODEL_NOT_FOUND', T.VALIDATION_ERROR, R.MODEL_NOT_FOUND, 'Model not found'],
  ...(
    [
      ['INVALID_API_KEY', R.INVALID_API_KEY],
      ['INVALID_AUTHENTICATION', R.INVALID_API_KEY],
      ['AUTHENTICATION_ERROR', R.INVALID_API_KEY],
      ['UNAUTHORIZED', R.INVALID_API_KEY],
      ['INVALID_TOKEN', R.INVALID_API_KEY],
      ['ACCOUNT_DEACTIVATED', R.ACCOUNT_SUSPENDED],
      ['PERMISSION_DENIED', R.INSUFFICIENT_PERMISSIONS],
      ['PERMISSION_ERROR', R.INSUFFICIENT_PERMISSIONS],
      ['INSUFFICIENT_PERMISSIONS', R.INSUFFICIENT_PERMISSIONS],
      ['TOKEN_EXPIRED', R.EXPIRED_TOKEN],
      ['EXPIRED_TOKEN', R.EXPIRED_TOKEN],
    ] as const
  ).map(
    ([code, reason]) =>
      [code, T.AUTH_ERROR, reason, 'Authentication failed'] as [string, T, R, string],
  ),
  ...(
    [
      ['RATE_LIMIT_EXCEEDED', R.REQUESTS_PER_MINUTE],
      ['RATE_LIMIT_ERROR', R.REQUESTS_PER_MINUTE],
      ['TOO_MANY_REQUESTS', R.REQUESTS_PER_MINUTE],
      ['QUOTA_EXCEEDED', R.REQUESTS_PER_MINUTE],
      ['RESOURCE_EXHAUSTED', R.REQUESTS_PER_MINUTE],
      ['INSUFFICIENT_QUOTA', R.API_QUOTA_EXCEEDED],
    ] as const
  ).map(([code, reason]) => [code, T.RATE_LIMIT, reason, 'Rate limited'] as [string, T, R, string]),
  ...(
    [
      ['ENOSPC', R.DISK_SPACE_FULL],
      ['EDQUOT', R.DISK_SPACE_FULL],
      ['ENOMEM', R.OUT_OF_MEMORY],
      ['OUTOFMEMORYERROR', R.OUT_OF_MEMORY],
      ['TORCH.OUTOFMEMORYERROR', R.OUT_OF_MEMORY],
      ['TORCH.CUDA.OUTOFMEMORYERROR', R.OUT_OF_MEMORY],
    ] as const
  ).map(
    ([code, reason]) =>
      [code, T.RESOURCE_LIMIT, reason, 'Resource limit reached'] as [string, T, R, string],
  ),
  ['CONFIG_ERROR', T.SYSTEM_ERROR, R.CONFIG_ERROR, 'Configuration error'],
  ['ERR_INVALID_CONFIG', T.SYSTEM_ERROR, R.CONFIG_ERROR, 'Configuration error'],
  ...['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'MODULENOTFOUNDERROR', 'DEPENDENCY_ERROR'].map(
    (code) =>
      [code, T.SYSTEM_ERROR, R.DEPENDENCY_ERROR, 'Missing dependency'] as [string, T, R, string],
  ),
  ...(
    [
      ['INVALID_RESPONSE_FORMAT', R.INVALID_RESPONSE_FORMAT],
      ['UNEXPECTED_CONTENT_TYPE', R.UNEXPECTED_CONTENT_TYPE],
      ['CORRUPTED_DATA', R.CORRUPTED_DATA],
      ['MISSING_EXPECTED_DATA', R.MISSING_EXPECTED_DATA],
    ] as const
  ).map(
    ([code, reason]) =>
      [code, T.RESPONSE_ERROR, reason, 'Unusable response'] as [string, T, R, string],
  ),
  ['COMPONENT_ERROR', T.VALIDATION_ERROR, R.COMPONENT_ERROR, 'Component failed'],
  ['EXECUTION_ERROR', T.VALIDATION_ERROR, R.COMPONENT_ERROR, 'Component failed'],
  ...(
    [
      ['INVALID_REQUEST_ERROR', R.INVALID_PAYLOAD],
      ['INVALID_VALUE', R.INVALID_PAYLOAD],
      ['INVALID_PAYLOAD', R.INVALID_PAYLOAD],
      ['PROMPT_OUTPUTS_FAILED_VALIDATION', R.INVALID_PAYLOAD],
      ['INVALID_PROMPT', R.INVALID_PAYLOAD],
      ['CONTEXT_LENGTH_EXCEEDED', R.INVALID_PAYLOAD],
      ['ERR_INVALID_ARG_TYPE', R.INVALID_PAYLOAD],
      ['ZODERROR', R.INVALID_PAYLOAD],
      ['MISSING_REQUIRED_PARAMETER', R.MISSING_REQUIRED_FIELD],
      ['REQUIRED_INPUT_MISSING', R.MISSING_REQUIRED_FIELD],
      ['INVALID_IMAGE_FORMAT', R.INVALID_FORMAT],
      ['UNSUPPORTED_OPERATION', R.UNSUPPORTED_OPERATION],
    ] as const
  ).map(
    ([code, reason]) =>
      [code, T.VALIDATION_ERROR, reason, 'Invalid request'] as [string, T, R, string],
  ),
  ...[
    'SERVER_ERROR',
    'SERVICE_UNAVAILABLE',
    'OVERLOADED_ERROR',
    'INTERNAL_SERVER_ERROR',
    'API_ERROR',
  ].map(
    (code) =>
      [code, T.SERVICE_ERROR, R.SERVICE_UNAVAILABLE, 'Upstream service error'] as [
        string,
        T,
        R,
        string,
      ],
  ),
  ['INTERNAL_ERROR', T.SYSTEM_ERROR, R.INTERNAL_ERROR, 'Internal error'],
  ['ERR_ASSERTION', T.SYSTEM_ERROR, R.INTERNAL_ERROR, 'Internal error'],
];

describe('classification by error code alone', () => {
  it.each(CODES)('%s -> %s/%s', (code, type, reason, label) => {
    const result = FailureClassifier.classify(sysError('call failed', code.toLowerCase()));
    expect(result).toMatchObject({ failure_type: type, failure_reason: reason });
    expect(result.failure_description).toBe(`${label}: call failed`);
  });

  it('reads the code of a TimeoutError by its name', () => {
    const error = Object.assign(new Error('call failed'), { name: 'TimeoutError' });
    expect(FailureClassifier.classify(error)).toMatchObject({
      failure_type: T.TIMEOUT,
      failure_reason: R.PROCESSING_TIMEOUT,
      failure_description: 'Timed out: call failed',
    });
  });
});

/** `[status, type, reason, label]` for a bare status with a message that says nothing. */
const STATUSES: Array<[number, T, R, string]> = [
  [400, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Invalid request'],
  [401, T.AUTH_ERROR, R.INVALID_API_KEY, 'Authentication failed'],
  [402, T.RATE_LIMIT, R.API_QUOTA_EXCEEDED, 'Rate limited'],
  [403, T.AUTH_ERROR, R.INSUFFICIENT_PERMISSIONS, 'Authentication failed'],
  [404, T.VALIDATION_ERROR, R.UNSUPPORTED_OPERATION, 'Invalid request'],
  [405, T.VALIDATION_ERROR, R.UNSUPPORTED_OPERATION, 'Invalid request'],
  [407, T.NETWORK_ERROR, R.PROXY_ERROR, 'Proxy error'],
  [408, T.TIMEOUT, R.PROCESSING_TIMEOUT, 'Timed out'],
  [409, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Invalid request'],
  [410, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Request rejected'],
  [413, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Invalid request'],
  [415, T.VALIDATION_ERROR, R.INVALID_FORMAT, 'Invalid request'],
  [422, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Invalid request'],
  [429, T.RATE_LIMIT, R.REQUESTS_PER_MINUTE, 'Rate limited'],
  [499, T.VALIDATION_ERROR, R.INVALID_PAYLOAD, 'Request rejected'],
  [500, T.SERVICE_ERROR, R.INTERNAL_ERROR, 'Upstream service error'],
  [501, T.VALIDATION_ERROR, R.UNSUPPORTED_OPERATION, 'Invalid request'],
  [502, T.SERVICE_ERROR, R.SERVICE_DOWN, 'Upstream service error'],
  [503, T.SERVICE_ERROR, R.SERVICE_UNAVAILABLE, 'Upstream service error'],
  [504, T.TIMEOUT, R.PROCESSING_TIMEOUT, 'Timed out'],
  [520, T.SERVICE_ERROR, R.SERVICE_DOWN, 'Upstream service error'],
  [521, T.SERVICE_ERROR, R.SERVICE_DOWN, 'Upstream service error'],
  [522, T.SERVICE_ERROR, R.SERVICE_DOWN, 'Upstream service error'],
  [523, T.SERVICE_ERROR, R.SERVICE_DOWN, 'Upstream service error'],
  [524, T.TIMEOUT, R.PROCESSING_TIMEOUT, 'Timed out'],
  [529, T.SERVICE_ERROR, R.DEGRADED_PERFORMANCE, 'Upstream service error'],
  [599, T.SERVICE_ERROR, R.SERVICE_UNAVAILABLE, 'Upstream service error'],
  [302, T.SYSTEM_ERROR, R.UNKNOWN_ERROR, 'Unknown failure'],
  [399, T.SYSTEM_ERROR, R.UNKNOWN_ERROR, 'Unknown failure'],
];

describe('classification by HTTP status alone', () => {
  it.each(STATUSES)('%s -> %s/%s', (httpStatus, type, reason, label) => {
    const result = FailureClassifier.classify('call failed', { httpStatus });
    expect(result).toMatchObject({ failure_type: type, failure_reason: reason });
    expect(result.failure_description.split(' [')[0]).toBe(
      `${label} (HTTP ${httpStatus}): call failed`,
    );
  });

  it('reads an unparseable body as an unusable response only with a 2xx or no status', () => {
    const body = 'Unexpected token < in JSON at position 0';
    for (const httpStatus of [undefined, 200, 299])
      expect(FailureClassifier.classify(body, { httpStatus }).failure_type).toBe(T.RESPONSE_ERROR);
    expect(FailureClassifier.classify(body, { httpStatus: 300 }).failure_type).toBe(T.SYSTEM_ERROR);
    expect(FailureClassifier.classify(body, { httpStatus: 404 })).toMatchObject({
      failure_type: T.VALIDATION_ERROR,
      failure_reason: R.UNSUPPORTED_OPERATION,
    });
  });
});

describe('labels of the rules a bare code or status does not reach', () => {
  it('names a deadline of the caller, a GPU fault, and an invalid file format code', () => {
    expect(FailureClassifier.classify('x', { timeout: true }).failure_description).toBe(
      'Timed out: x',
    );
    expect(FailureClassifier.classify('gpu fallen off the bus').failure_description).toBe(
      'GPU error: gpu fallen off the bus',
    );
    expect(
      FailureClassifier.classify(sysError('call failed', 'invalid_file_format'), {
        httpStatus: 400,
      }).failure_reason,
    ).toBe(R.INVALID_FORMAT);
  });
});

describe('failure_description', () => {
  it('names the label, service and status, then the message chain with whitespace collapsed', () => {
    const error = new Error('  upstream\n\n  said   no ', { cause: new Error('socket closed') });
    expect(
      FailureClassifier.classify(error, { serviceType: 'openai', httpStatus: 503 })
        .failure_description,
    ).toBe('Upstream service error (openai, HTTP 503): upstream said no <- socket closed');
    expect(FailureClassifier.classify('oops', { serviceType: 'comfyui' }).failure_description).toBe(
      'Unknown failure (comfyui): oops',
    );
    expect(FailureClassifier.classify(undefined).failure_description).toBe('Unknown failure');
  });

  it('ends with the request id and the retry delay in seconds, in brackets', () => {
    const result = FailureClassifier.classify('Too Many Requests', {
      httpStatus: 429,
      requestId: 'req_abc123',
      headers: { 'retry-after-ms': '1450' },
    });
    expect(result.failure_description).toBe(
      'Rate limited (HTTP 429): Too Many Requests [request id req_abc123; retry after 1.5 s]',
    );
  });

  it('clips a long message with an ellipsis at exactly 1000 characters, keeping the suffix', () => {
    const result = FailureClassifier.classify('y'.repeat(2_000), {
      httpStatus: 500,
      requestId: 'req_keepme',
    });
    const d = result.failure_description;
    expect(d).toHaveLength(1_000);
    expect(d.startsWith('Upstream service error (HTTP 500): yyy')).toBe(true);
    expect(d.endsWith('y… [request id req_keepme]')).toBe(true);
    const exact = 1_000 - 'Upstream service error (HTTP 500): '.length;
    expect(
      FailureClassifier.classify('z'.repeat(exact), { httpStatus: 500 }).failure_description,
    ).toBe(`Upstream service error (HTTP 500): ${'z'.repeat(exact)}`);
  });
});

/** Wordings providers and libraries use, each read the way its words say: `[message, status, type, reason]`. */
const PHRASINGS: Array<[string, number | undefined, T, R]> = [
  ['image blocked due to a rule', undefined, T.GENERATION_REFUSAL, R.POLICY_VIOLATION],
  ['Im sorry but i cannot help with that', undefined, T.GENERATION_REFUSAL, R.POLICY_VIOLATION],
  ['I cant depict violence', undefined, T.GENERATION_REFUSAL, R.VIOLENCE_DETECTED],
  ['I wont draw nudity', undefined, T.GENERATION_REFUSAL, R.NSFW_CONTENT],
  [
    'image rejected due to third-party content',
    undefined,
    T.GENERATION_REFUSAL,
    R.COPYRIGHT_BLOCKER,
  ],
  ['connect timeout', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['connection time out', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['connection timedout', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['socket time out', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['socket timedout', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['read time out', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['read timedout', undefined, T.NETWORK_ERROR, R.NETWORK_TIMEOUT],
  ['job abc timed out', undefined, T.TIMEOUT, R.JOB_TIMEOUT],
  ['job abc time out', undefined, T.TIMEOUT, R.JOB_TIMEOUT],
  ['job abc timedout', undefined, T.TIMEOUT, R.JOB_TIMEOUT],
  ['render time out', undefined, T.TIMEOUT, R.PROCESSING_TIMEOUT],
  ['render timedout', undefined, T.TIMEOUT, R.PROCESSING_TIMEOUT],
  ["value not in list: ckpt 'x'", undefined, T.VALIDATION_ERROR, R.MODEL_NOT_FOUND],
  ['api key missing', undefined, T.AUTH_ERROR, R.INVALID_API_KEY],
  ['unauthorised', undefined, T.AUTH_ERROR, R.INVALID_API_KEY],
  ['token expired', undefined, T.AUTH_ERROR, R.EXPIRED_TOKEN],
  ['account deactivated', undefined, T.AUTH_ERROR, R.ACCOUNT_SUSPENDED],
  ['billing account is not active', 401, T.AUTH_ERROR, R.ACCOUNT_SUSPENDED],
  ['you do not have access to this', 401, T.AUTH_ERROR, R.INSUFFICIENT_PERMISSIONS],
  ['usage limit reached', undefined, T.RATE_LIMIT, R.REQUESTS_PER_MINUTE],
  ['insufficient credit', undefined, T.RATE_LIMIT, R.API_QUOTA_EXCEEDED],
  ['quota reached, resets at 00:00 utc', undefined, T.RATE_LIMIT, R.DAILY_QUOTA_EXCEEDED],
  ['You exceeded your quota.', undefined, T.RATE_LIMIT, R.API_QUOTA_EXCEEDED],
  ['disk full', undefined, T.RESOURCE_LIMIT, R.DISK_SPACE_FULL],
  ['container exceeded memory limit', undefined, T.RESOURCE_LIMIT, R.OUT_OF_MEMORY],
  ['maximum concurrent jobs reached', undefined, T.RESOURCE_LIMIT, R.CONCURRENT_LIMIT],
  [
    'torch.OutOfMemoryError: tried to allocate 2.00 MiB',
    undefined,
    T.RESOURCE_LIMIT,
    R.GPU_MEMORY_FULL,
  ],
  ['gpu fallen off the bus', undefined, T.SYSTEM_ERROR, R.GPU_ERROR],
  ['self-signed cert in chain', undefined, T.NETWORK_ERROR, R.SSL_CERTIFICATE],
  ['missing env DATABASE_URL', undefined, T.SYSTEM_ERROR, R.CONFIG_ERROR],
  ['custom node ReActor missing', undefined, T.SYSTEM_ERROR, R.DEPENDENCY_ERROR],
  ['Unexpected token < in JSON', undefined, T.RESPONSE_ERROR, R.INVALID_RESPONSE_FORMAT],
  ['invalid json', undefined, T.RESPONSE_ERROR, R.INVALID_RESPONSE_FORMAT],
  ['cant parse response', undefined, T.RESPONSE_ERROR, R.INVALID_RESPONSE_FORMAT],
  ['no output returned', undefined, T.RESPONSE_ERROR, R.MISSING_EXPECTED_DATA],
  ['no image found', undefined, T.RESPONSE_ERROR, R.MISSING_EXPECTED_DATA],
  ['missing output', undefined, T.RESPONSE_ERROR, R.MISSING_EXPECTED_DATA],
  ['component KSampler failed', undefined, T.VALIDATION_ERROR, R.COMPONENT_ERROR],
  ["required field 'prompt' missing", 400, T.VALIDATION_ERROR, R.MISSING_REQUIRED_FIELD],
  ['invalid format', 400, T.VALIDATION_ERROR, R.INVALID_FORMAT],
  ['not a valid jpg', 400, T.VALIDATION_ERROR, R.INVALID_FORMAT],
];

describe('classification by wording', () => {
  it.each(PHRASINGS)('%s (HTTP %s) -> %s/%s', (message, httpStatus, type, reason) => {
    expect(FailureClassifier.classify(new Error(message), { httpStatus })).toMatchObject({
      failure_type: type,
      failure_reason: reason,
    });
  });
});
