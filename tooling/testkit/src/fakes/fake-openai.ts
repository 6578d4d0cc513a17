import { randomBytes } from 'node:crypto';
import { HttpFake, type FakeReply, type RecordedRequest } from './http-fake.js';
import { TINY_PNG } from './png.js';

export interface FakeOpenAIOptions {
  /** When set, every request must carry `Authorization: Bearer <apiKey>` or gets OpenAI's 401. */
  apiKey?: string;
  /** Known model ids; others get OpenAI's 404 `model_not_found`. Default: any model. */
  models?: string[];
  /** How many `GET /v1/responses/:id` polls a background response stays `in_progress`. Default 1. */
  pollsUntilDone?: number;
}

export interface FakeOpenAI extends AsyncDisposable {
  /** Base URL as OpenAI clients expect it: `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  origin: string;
  requests: RecordedRequest[];
  /** Script the next replies of a route, e.g. `enqueue('POST /v1/chat/completions', openaiReplies.rateLimited(2))`. */
  enqueue(route: string, ...replies: FakeReply[]): void;
  requestsTo(route: string): RecordedRequest[];
  close(): Promise<void>;
}

export const requestId = (): string => `req_${randomBytes(12).toString('hex')}`;

function error(
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: Record<string, string> = {},
): FakeReply {
  return {
    status,
    headers: { 'x-request-id': requestId(), ...headers },
    json: { error: { message, type, param: null, code } },
  };
}

/** Replies as OpenAI sends them (bodies and headers copied from real responses). */
export const openaiReplies = {
  unauthorized: (): FakeReply =>
    error(
      401,
      'Incorrect API key provided: sk-wrong*********************1234. You can find your API key at https://platform.openai.com/account/api-keys.',
      'invalid_request_error',
      'invalid_api_key',
    ),
  forbidden: (): FakeReply =>
    error(
      403,
      'You have insufficient permissions for this operation. Missing scopes: model.request.',
      'invalid_request_error',
      null,
    ),
  rateLimited: (retryAfterSeconds = 1): FakeReply =>
    error(
      429,
      'Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1.',
      'requests',
      'rate_limit_exceeded',
      {
        'retry-after': String(retryAfterSeconds),
        'x-ratelimit-limit-requests': '3',
        'x-ratelimit-remaining-requests': '0',
      },
    ),
  quotaExceeded: (): FakeReply =>
    error(
      429,
      'You exceeded your current quota, please check your plan and billing details.',
      'insufficient_quota',
      'insufficient_quota',
    ),
  serverError: (): FakeReply =>
    error(
      500,
      'The server had an error while processing your request. Sorry about that!',
      'server_error',
      null,
    ),
  unavailable: (retryAfterSeconds?: number): FakeReply =>
    error(
      503,
      'The server is overloaded or not ready yet.',
      'server_error',
      null,
      retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
    ),
  /** Synchronous image refusal: HTTP 400 `content_policy_violation`. */
  contentPolicy: (): FakeReply =>
    error(
      400,
      'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.',
      'invalid_request_error',
      'content_policy_violation',
    ),
  /** Chat refusal: HTTP 200, `message.refusal` set. */
  chatRefusal: (model = 'gpt-4o'): FakeReply => ({
    status: 200,
    headers: { 'x-request-id': requestId() },
    json: {
      id: `chatcmpl-${randomBytes(6).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: "I'm sorry, but I can't help with that request.",
          },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 },
    },
  }),
  /**
   * A background response that ended in `moderation_blocked`: HTTP 200 with the failure inside the
   * result, the way OpenAI reports an asynchronous refusal. Enqueue on `GET /v1/responses/:id`.
   */
  moderationBlocked: (providerRequestId = requestId()): FakeReply => ({
    status: 200,
    headers: { 'x-request-id': requestId() },
    json: {
      id: `resp_${randomBytes(8).toString('hex')}`,
      object: 'response',
      status: 'failed',
      error: {
        code: 'moderation_blocked',
        message: `Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID ${providerRequestId}.`,
      },
      output: [],
    },
  }),
  /** The given reply, or the normal answer, after `ms` (for request-timeout tests). */
  slow: (ms: number, reply?: FakeReply): FakeReply =>
    reply ? { ...reply, delayMs: ms } : { delayMs: ms },
  /** Closes the connection without an answer (ECONNRESET / "socket hang up" on the client). */
  drop: (): FakeReply => ({ drop: true }),
  notJson: (): FakeReply => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    text: '<html><body>Welcome to nginx!</body></html>',
  }),
};

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const fake = new HttpFake('openai');
  const responses = new Map<string, { polls: number; body: Record<string, unknown> }>();
  const pollsUntilDone = options.pollsUntilDone ?? 1;

  const guard = (req: RecordedRequest, model?: unknown): FakeReply | undefined => {
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`)
      return openaiReplies.unauthorized();
    if (options.models && typeof model === 'string' && !options.models.includes(model)) {
      return error(
        404,
        `The model \`${model}\` does not exist or you do not have access to it.`,
        'invalid_request_error',
        'model_not_found',
      );
    }
    return undefined;
  };
  const ok = (json: unknown): FakeReply => ({
    status: 200,
    headers: { 'x-request-id': requestId() },
    json,
  });
  const bodyOf = (req: RecordedRequest): Record<string, unknown> =>
    req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};

  fake.route(
    'GET',
    '/v1/models',
    (req) =>
      guard(req) ??
      ok({
        object: 'list',
        data: (options.models ?? ['gpt-4o']).map((id) => ({
          id,
          object: 'model',
          owned_by: 'fake',
        })),
      }),
  );

  fake.route('POST', '/v1/chat/completions', (req) => {
    const body = bodyOf(req);
    const denied = guard(req, body.model);
    if (denied) return denied;
    if (!Array.isArray(body.messages))
      return error(
        400,
        "Missing required parameter: 'messages'.",
        'invalid_request_error',
        'missing_required_parameter',
      );
    const last = body.messages.at(-1) as { content?: unknown } | undefined;
    return ok({
      id: `chatcmpl-${randomBytes(6).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: `echo: ${typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '')}`,
            refusal: null,
          },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
    });
  });

  fake.route('POST', '/v1/images/generations', (req) => {
    const body = bodyOf(req);
    const denied = guard(req, body.model);
    if (denied) return denied;
    if (typeof body.prompt !== 'string')
      return error(
        400,
        "Missing required parameter: 'prompt'.",
        'invalid_request_error',
        'missing_required_parameter',
      );
    const n = typeof body.n === 'number' ? body.n : 1;
    return ok({
      created: Math.floor(Date.now() / 1000),
      data: Array.from({ length: n }, () => ({
        b64_json: TINY_PNG.toString('base64'),
        revised_prompt: body.prompt,
      })),
    });
  });

  fake.route('POST', '/v1/responses', (req) => {
    const body = bodyOf(req);
    const denied = guard(req, body.model);
    if (denied) return denied;
    const id = `resp_${randomBytes(8).toString('hex')}`;
    const done = {
      id,
      object: 'response',
      status: 'completed',
      model: body.model,
      output: [
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: `echo: ${JSON.stringify(body.input ?? '')}` }],
        },
      ],
    };
    if (body.background !== true) return ok(done);
    responses.set(id, { polls: 0, body: done });
    return ok({ id, object: 'response', status: 'queued', model: body.model, output: [] });
  });

  fake.route('GET', '/v1/responses/:id', (req, params) => {
    const denied = guard(req);
    if (denied) return denied;
    const entry = responses.get(params.id ?? '');
    if (!entry)
      return error(
        404,
        `Response with id '${params.id}' not found.`,
        'invalid_request_error',
        null,
      );
    entry.polls += 1;
    if (entry.polls <= pollsUntilDone)
      return ok({ ...entry.body, status: 'in_progress', output: [] });
    return ok(entry.body);
  });

  await fake.listen();
  return {
    baseUrl: `${fake.origin}/v1`,
    origin: fake.origin,
    requests: fake.requests,
    enqueue: (route, ...replies) => fake.enqueue(route, ...replies),
    requestsTo: (route) => fake.requestsTo(route),
    close: () => fake.close(),
    [Symbol.asyncDispose]: () => fake.close(),
  };
}
