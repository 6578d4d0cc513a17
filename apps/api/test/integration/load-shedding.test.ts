import { waitFor } from '@jobgate/testkit';
import { expect, it } from 'vitest';
import { startApi } from './harness.js';

it('sheds POST /api/jobs with 429 and Retry-After once the pending limit is reached; reads still answer', async () => {
  await using api = await startApi({ limits: { maxPendingJobs: 3 } });
  const key = await api.customer('acme');
  const submit = () =>
    api.request('POST', '/api/jobs', {
      key,
      body: { service_required: 'simulation', payload: {} },
    });
  for (let i = 0; i < 3; i++) expect((await submit()).status).toBe(201);
  // The pending count is refreshed off the request path (every 250 ms at most).
  const shed = await waitFor(
    async () => {
      const answer = await submit();
      return answer.status === 429 ? answer : null;
    },
    { timeoutMs: 5_000, intervalMs: 50, what: 'a submit shed with 429' },
  );
  expect(shed.headers.get('retry-after')).toBe('2');
  expect(shed.body.error.code).toBe('queue_full');
  expect((await api.request('GET', '/api/jobs', { key })).status).toBe(200);
  expect((await api.request('GET', '/health')).status).toBe(200);
  const metrics = await api.request('GET', '/metrics');
  expect(metrics.text).toMatch(/jobgate_api_shed_total\{reason="queue_full"\} [1-9]/);
});

it('answers 503 overloaded with Retry-After past the in-flight limit instead of queueing', async () => {
  await using api = await startApi({ limits: { maxInFlight: 1 } });
  const key = await api.customer('acme');
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => api.request('GET', '/api/jobs', { key })),
  );
  const statuses = answers.map((a) => a.status);
  expect(statuses).toContain(200);
  expect(statuses).toContain(503);
  for (const a of answers.filter((x) => x.status === 503)) {
    expect(a.headers.get('retry-after')).toBe('1');
    expect(a.body.error.code).toBe('overloaded');
  }
});
