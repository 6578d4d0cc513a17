import { openaiReplies, startFakeOpenAI, type FakeOpenAI, type FakeReply } from '@jobgate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIConnector } from '../../src/connectors/openai.js';
import { harness, type Harness } from '../helpers.js';

const KEY = 'sk-test-0123456789abcdefghij';

describe('openai connector against a fake OpenAI-compatible server', () => {
  let fake: FakeOpenAI;
  let h: Harness;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY, pollsUntilDone: 1 });
    h = await harness();
    await h.startWorker([
      createOpenAIConnector({
        baseUrl: fake.baseUrl,
        apiKey: KEY,
        // Well apart from the slow case's delay: at 400 ms a loaded soak level timed out the
        // request that was to get the 401 (the retry then completed the job).
        requestTimeoutMs: 2_000,
        pollIntervalMs: 10,
      }),
    ]);
  });
  afterAll(async () => {
    await h?.[Symbol.asyncDispose]();
    await fake?.close();
  });

  const chat = { operation: 'chat', model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

  it('completes a chat job, sending the configured key', async () => {
    const { id } = await h.queue.submit({ service_required: 'openai', payload: chat });
    const job = await h.waitForJob(id, (j) => j.status === 'completed');
    expect(job.result).toMatchObject({ text: 'echo: hi', finish_reason: 'stop' });
    expect((job.result as { request_id: string }).request_id).toMatch(/^req_/);
    expect(fake.requestsTo('POST /v1/chat/completions').at(-1)?.headers.authorization).toBe(
      `Bearer ${KEY}`,
    );
  });

  it('completes a background response after polling it', async () => {
    const { id } = await h.queue.submit({
      service_required: 'openai',
      payload: { operation: 'responses', model: 'gpt-4o', input: 'draw', background: true },
    });
    const job = await h.waitForJob(id, (j) => j.status === 'completed');
    expect(job.result).toMatchObject({ output: [{ type: 'message' }] });
    expect(fake.requestsTo('GET /v1/responses/:id').length).toBeGreaterThanOrEqual(2);
  });

  // Each failure is served once; a retryable one then succeeds on attempt 2 (the fake answers
  // normally again), a permanent one ends the job on attempt 1.
  const cases: Array<{
    name: string;
    reply: FakeReply;
    route?: string;
    payload?: unknown;
    type: string;
    reason: string;
    retry: boolean;
    retryAfterMs?: number;
    description?: RegExp;
  }> = [
    {
      name: '401 wrong key',
      reply: openaiReplies.unauthorized(),
      type: 'auth_error',
      reason: 'invalid_api_key',
      retry: false,
    },
    {
      name: '403 permissions',
      reply: openaiReplies.forbidden(),
      type: 'auth_error',
      reason: 'insufficient_permissions',
      retry: false,
    },
    {
      name: '429 with Retry-After',
      reply: openaiReplies.rateLimited(1),
      type: 'rate_limit',
      reason: 'requests_per_minute',
      retry: true,
      retryAfterMs: 1_000,
    },
    {
      name: '429 insufficient quota',
      reply: openaiReplies.quotaExceeded(),
      type: 'rate_limit',
      reason: 'api_quota_exceeded',
      retry: false,
    },
    {
      name: '500',
      reply: openaiReplies.serverError(),
      type: 'service_error',
      reason: 'internal_error',
      retry: true,
    },
    {
      name: '503',
      reply: openaiReplies.unavailable(),
      type: 'service_error',
      reason: 'degraded_performance',
      retry: true,
    },
    {
      name: 'chat refusal in a 200',
      reply: openaiReplies.chatRefusal(),
      type: 'generation_refusal',
      reason: 'policy_violation',
      retry: false,
    },
    {
      name: 'moderation_blocked inside a 200 async result',
      reply: openaiReplies.moderationBlocked('req_fake1234567890'),
      route: 'GET /v1/responses/:id',
      payload: { operation: 'responses', model: 'gpt-image-1', input: 'x', background: true },
      type: 'generation_refusal',
      reason: 'safety_filter',
      retry: false,
      description: /req_fake1234567890/,
    },
    {
      name: 'dropped connection',
      reply: openaiReplies.drop(),
      type: 'network_error',
      reason: 'connection_failed',
      retry: true,
    },
    {
      name: 'connection dropped in the middle of the body',
      reply: { drop: true, afterHeaders: true },
      type: 'network_error',
      reason: 'connection_failed',
      retry: true,
    },
    {
      name: 'slow answer hits the request timeout',
      reply: openaiReplies.slow(8_000),
      type: 'timeout',
      reason: 'processing_timeout',
      retry: true,
    },
    {
      name: 'HTML instead of JSON',
      reply: openaiReplies.notJson(),
      type: 'response_error',
      reason: 'unexpected_content_type',
      retry: true,
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    fake.enqueue(c.route ?? 'POST /v1/chat/completions', c.reply);
    const submittedAt = Date.now();
    const { id } = await h.queue.submit({
      service_required: 'openai',
      max_attempts: 2,
      payload: c.payload ?? chat,
    });
    const job = await h.waitForJob(id, (j) => j.status === (c.retry ? 'completed' : 'failed'));
    expect(job.attempts).toBe(c.retry ? 2 : 1);
    const [attestation, ...rest] = await h.attestations(id);
    expect(rest).toHaveLength(0);
    expect(attestation).toMatchObject({
      failure_type: c.type,
      failure_reason: c.reason,
      decision: c.retry ? 'retry' : 'fail',
      attempt: 1,
    });
    expect(attestation!.failure_description).not.toContain(KEY.slice(3));
    if (c.description) expect(attestation!.failure_description).toMatch(c.description);
    if (!c.retry)
      expect(job.last_failure).toMatchObject({
        failure_type: c.type,
        failure_reason: c.reason,
        retryable: false,
      });
    if (c.retryAfterMs !== undefined) {
      // Retry-After is honoured: the second attempt starts no earlier than the upstream asked.
      expect(attestation!.retry_after_ms).toBe(c.retryAfterMs);
      expect(job.claimed_at! - attestation!.failed_at).toBeGreaterThanOrEqual(c.retryAfterMs - 5);
    }
    expect(job.finished_at! - submittedAt).toBeLessThan(10_000);
  });
});
