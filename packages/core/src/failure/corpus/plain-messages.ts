import { FailureReason as R, FailureType as T } from '../types.js';

/**
 * Failure messages as they reach a worker with no body and no HTTP status: worded after what GPU
 * and AI providers, HTTP clients and runtimes print. Each carries the classification a person
 * would give it. `pnpm --filter @jobgate/core failure:agreement` prints the share the classifier
 * agrees with on both tiers; the unit test pins every entry.
 */
export const PLAIN_MESSAGES: ReadonlyArray<{ message: string; type: T; reason: R }> = [
  // Content refusals in prose.
  {
    message: 'content generation refused: the prompt describes violent acts',
    type: T.GENERATION_REFUSAL,
    reason: R.VIOLENCE_DETECTED,
  },
  {
    message: 'Generation refused: request contains graphic violence',
    type: T.GENERATION_REFUSAL,
    reason: R.VIOLENCE_DETECTED,
  },
  {
    message: 'I cannot generate images that depict gore or extreme violence.',
    type: T.GENERATION_REFUSAL,
    reason: R.VIOLENCE_DETECTED,
  },
  {
    message: 'cannot generate an image of a copyrighted character (Mickey Mouse)',
    type: T.GENERATION_REFUSAL,
    reason: R.COPYRIGHT_BLOCKER,
  },
  {
    message: 'Unable to create this image: it resembles trademarked characters',
    type: T.GENERATION_REFUSAL,
    reason: R.COPYRIGHT_BLOCKER,
  },
  {
    message: 'Request declined: depicting nudity is not permitted',
    type: T.GENERATION_REFUSAL,
    reason: R.NSFW_CONTENT,
  },
  {
    message: 'The model refused to produce sexually explicit content',
    type: T.GENERATION_REFUSAL,
    reason: R.NSFW_CONTENT,
  },
  {
    message: 'content generation refused: hateful content targeting a protected group',
    type: T.GENERATION_REFUSAL,
    reason: R.HATE_SPEECH,
  },
  {
    message: "We can't create images containing hate symbols",
    type: T.GENERATION_REFUSAL,
    reason: R.HATE_SPEECH,
  },
  {
    message: 'refused to generate: prompt contains personal data of a private individual',
    type: T.GENERATION_REFUSAL,
    reason: R.PERSONAL_INFO,
  },
  {
    message:
      'cannot generate content that reveals personal information (home address, phone number)',
    type: T.GENERATION_REFUSAL,
    reason: R.PERSONAL_INFO,
  },
  {
    message: 'Your request was rejected as a result of our safety system.',
    type: T.GENERATION_REFUSAL,
    reason: R.SAFETY_FILTER,
  },
  {
    message: 'This prompt violates our content policy',
    type: T.GENERATION_REFUSAL,
    reason: R.POLICY_VIOLATION,
  },
  {
    message: 'Output image flagged by the NSFW safety checker',
    type: T.GENERATION_REFUSAL,
    reason: R.NSFW_CONTENT,
  },
  // Out of memory, in its forms.
  { message: 'OOM', type: T.RESOURCE_LIMIT, reason: R.OUT_OF_MEMORY },
  {
    message: 'process OOM: exceeded memory limit of 16Gi',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
  },
  { message: 'out of memory', type: T.RESOURCE_LIMIT, reason: R.OUT_OF_MEMORY },
  {
    message: 'Killed: worker process terminated due to insufficient memory',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
  },
  {
    message: 'container was OOMKilled (exit code 137)',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
  },
  {
    message: 'not enough memory to load the model',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
  },
  {
    message: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
    type: T.RESOURCE_LIMIT,
    reason: R.OUT_OF_MEMORY,
  },
  {
    message: 'CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)',
    type: T.RESOURCE_LIMIT,
    reason: R.GPU_MEMORY_FULL,
  },
  {
    message: 'ENOSPC: no space left on device, write',
    type: T.RESOURCE_LIMIT,
    reason: R.DISK_SPACE_FULL,
  },
  // Provider responses that cannot be parsed.
  {
    message: 'Unexpected token < in JSON at position 0',
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
  },
  {
    message: `Unexpected token '<', "<!DOCTYPE "... is not valid JSON`,
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
  },
  {
    message: 'Unexpected end of JSON input',
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
  },
  {
    message: 'SyntaxError: JSON.parse: unexpected character at line 1 column 1 of the JSON data',
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
  },
  {
    message: 'failed to parse provider response body',
    type: T.RESPONSE_ERROR,
    reason: R.INVALID_RESPONSE_FORMAT,
  },
  {
    message: 'response body truncated after 65536 bytes',
    type: T.RESPONSE_ERROR,
    reason: R.CORRUPTED_DATA,
  },
  {
    message: 'expected application/json but received text/html',
    type: T.RESPONSE_ERROR,
    reason: R.UNEXPECTED_CONTENT_TYPE,
  },
  {
    message: 'invalid content-type: text/plain; charset=utf-8',
    type: T.RESPONSE_ERROR,
    reason: R.UNEXPECTED_CONTENT_TYPE,
  },
  // Quotas that reset daily or monthly, billing.
  {
    message: 'You exceeded your quota for this month',
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
  },
  {
    message: 'Monthly quota exceeded. Upgrade your plan to continue.',
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
  },
  {
    message: 'You have reached your monthly spending limit',
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
  },
  {
    message: 'Billing hard limit has been reached',
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
  },
  {
    message: 'insufficient credits: add funds to your account',
    type: T.RATE_LIMIT,
    reason: R.API_QUOTA_EXCEEDED,
  },
  {
    message: 'Daily limit reached: 500 images per day',
    type: T.RATE_LIMIT,
    reason: R.DAILY_QUOTA_EXCEEDED,
  },
  {
    message: 'daily quota exhausted, resets at 00:00 UTC',
    type: T.RATE_LIMIT,
    reason: R.DAILY_QUOTA_EXCEEDED,
  },
  {
    message: 'You have exceeded your quota for today',
    type: T.RATE_LIMIT,
    reason: R.DAILY_QUOTA_EXCEEDED,
  },
  {
    message: 'Rate limit reached for requests per minute. Please try again in 20s.',
    type: T.RATE_LIMIT,
    reason: R.REQUESTS_PER_MINUTE,
  },
  { message: 'Too many requests', type: T.RATE_LIMIT, reason: R.REQUESTS_PER_MINUTE },
  {
    message: 'Rate limit reached for tokens per min (TPM)',
    type: T.RATE_LIMIT,
    reason: R.TOKENS_PER_MINUTE,
  },
  // Connection and socket timeouts are network trouble; job deadlines are timeouts.
  {
    message: 'network timeout at: https://api.example.com/v1/images',
    type: T.NETWORK_ERROR,
    reason: R.NETWORK_TIMEOUT,
  },
  { message: 'connection timeout', type: T.NETWORK_ERROR, reason: R.NETWORK_TIMEOUT },
  { message: 'connect ETIMEDOUT 10.0.0.12:443', type: T.NETWORK_ERROR, reason: R.NETWORK_TIMEOUT },
  { message: 'ETIMEDOUT', type: T.NETWORK_ERROR, reason: R.NETWORK_TIMEOUT },
  {
    message:
      'Connect Timeout Error (attempted address: api.openai.com:443, timeout: 10000ms) UND_ERR_CONNECT_TIMEOUT',
    type: T.NETWORK_ERROR,
    reason: R.NETWORK_TIMEOUT,
  },
  {
    message: 'socket timeout while reading response',
    type: T.NETWORK_ERROR,
    reason: R.NETWORK_TIMEOUT,
  },
  { message: 'ESOCKETTIMEDOUT', type: T.NETWORK_ERROR, reason: R.NETWORK_TIMEOUT },
  { message: 'job timed out after 600000 ms', type: T.TIMEOUT, reason: R.JOB_TIMEOUT },
  { message: 'job exceeded its deadline of 10 minutes', type: T.TIMEOUT, reason: R.JOB_TIMEOUT },
  { message: 'processing timed out after 300 s', type: T.TIMEOUT, reason: R.PROCESSING_TIMEOUT },
  {
    message: 'generation took too long and was aborted',
    type: T.TIMEOUT,
    reason: R.PROCESSING_TIMEOUT,
  },
  {
    message: 'timed out waiting in queue for a free GPU',
    type: T.TIMEOUT,
    reason: R.QUEUE_TIMEOUT,
  },
  // Groups the classifier already read well, so a fix for one does not break another.
  {
    message: 'Incorrect API key provided: sk-proj-abcdefghijklmnop',
    type: T.AUTH_ERROR,
    reason: R.INVALID_API_KEY,
  },
  {
    message: 'connect ECONNREFUSED 127.0.0.1:8188',
    type: T.NETWORK_ERROR,
    reason: R.CONNECTION_FAILED,
  },
  { message: 'socket hang up', type: T.NETWORK_ERROR, reason: R.CONNECTION_FAILED },
  {
    message: 'getaddrinfo ENOTFOUND api.example.invalid',
    type: T.NETWORK_ERROR,
    reason: R.DNS_RESOLUTION,
  },
  {
    message: 'The model `gpt-9` does not exist',
    type: T.VALIDATION_ERROR,
    reason: R.MODEL_NOT_FOUND,
  },
  { message: 'Service Unavailable', type: T.SERVICE_ERROR, reason: R.SERVICE_UNAVAILABLE },
  {
    message: 'The server is overloaded, please try again later',
    type: T.SERVICE_ERROR,
    reason: R.DEGRADED_PERFORMANCE,
  },
  {
    message: 'CUDA error: an illegal memory access was encountered',
    type: T.SYSTEM_ERROR,
    reason: R.GPU_ERROR,
  },
  { message: "No module named 'xformers'", type: T.SYSTEM_ERROR, reason: R.DEPENDENCY_ERROR },
  {
    message: 'missing required parameter: prompt',
    type: T.VALIDATION_ERROR,
    reason: R.MISSING_REQUIRED_FIELD,
  },
];
