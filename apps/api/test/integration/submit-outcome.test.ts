import { createQueue } from '@jobgate/core';
import { dropNamespace, uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/auth.js';
import { createServer } from '../../src/server.js';
import { redisUrl } from './harness.js';

/**
 * Redis stores the job, then the connection drops before the answer arrives (a restart or
 * failover): the client must learn the job's id so it can check instead of submitting twice.
 */
it('answers 503 outcome_unknown with the job id when Redis fails after storing the job', async () => {
  const namespace = uniqueNamespace('api-outcome');
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  const queue = await createQueue({ redis, namespace });
  let dropAnswers = true;
  const app = await createServer({
    redis,
    namespace,
    services: ['simulation'],
    queue: {
      ...queue,
      get: (id) => queue.get(id),
      cancel: (id) => queue.cancel(id),
      list: (filter) => queue.list(filter),
      counts: () => queue.counts(),
      submit: async (input) => {
        const stored = await queue.submit(input);
        if (dropAnswers) throw new Error('Connection is closed.');
        return stored;
      },
    },
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const key = (await new ApiKeyStore(redis, namespace, 0).create('acme')).key;
    const post = (headers: Record<string, string> = {}) =>
      fetch(`${url}/api/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ service_required: 'simulation', payload: { n: 1 } }),
      });

    const lost = await post();
    expect(lost.status).toBe(503);
    expect(lost.headers.get('retry-after')).toBe('1');
    const body = (await lost.json()) as {
      error: { code: string; job_id: string; message: string };
    };
    expect(body.error.code).toBe('outcome_unknown');
    expect(body.error.message).toContain(`GET /api/jobs/${body.error.job_id}`);
    expect(body.error.message).toContain('Idempotency-Key');
    expect(lost.headers.get('location')).toBe(`/api/jobs/${body.error.job_id}`);

    // The job the 503 named was stored, and the client can see it.
    const check = await fetch(`${url}/api/jobs/${body.error.job_id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(check.status).toBe(200);
    expect(((await check.json()) as { job: { customer_id: string } }).job.customer_id).toBe('acme');

    // Retrying with an Idempotency-Key after an unknown outcome never makes a second job.
    const first = await post({ 'idempotency-key': 'retry-1' });
    expect(first.status).toBe(503);
    const firstId = ((await first.json()) as { error: { job_id: string } }).error.job_id;
    dropAnswers = false;
    const retry = await post({ 'idempotency-key': 'retry-1' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { job: { id: string } }).job.id).toBe(firstId);
    expect((await queue.counts()).pending).toBe(2);
  } finally {
    await app.close();
    await queue.close();
    await dropNamespace(redis, namespace);
    redis.disconnect();
  }
});
