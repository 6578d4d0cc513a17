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
