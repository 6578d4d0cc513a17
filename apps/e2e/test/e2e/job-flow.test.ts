import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, watch, type Stack } from '../../src/stack.js';

let stack: Stack;
let key: string;
beforeAll(async () => {
  stack = await startStack({ workers: 2 });
  key = await stack.customer('acme');
});
afterAll(async () => stack?.[Symbol.asyncDispose]());

const types = (events: { type: string }[]) => events.map((e) => e.type);

describe('API + workers as processes', () => {
  it('runs submit -> claim -> progress -> complete, seen over HTTP and WebSocket in order', async () => {
    const ws = await watch(stack.wsUrl, key);
    try {
      const submitted = await stack.http('POST', '/api/jobs', key, {
        service_required: 'simulation',
        workflow_id: 'wf-happy',
        step: 1,
        payload: { duration_ms: 300, steps: 3, result: { image: 'cat.png' } },
      });
      expect(submitted.status).toBe(201);
      const id = submitted.body.job.id as string;
      const done = await stack.waitForJob(key, id, (job) => job.status === 'completed');
      expect(done).toMatchObject({
        status: 'completed',
        attempts: 1,
        result: { image: 'cat.png' },
        customer_id: 'acme',
      });

      await ws.waitForEvent((e) => e.job_id === id && e.type === 'job.completed');
      const events = ws.events(id);
      const seq = types(events);
      expect(seq[0]).toBe('job.received');
      expect(seq[1]).toBe('job.claimed');
      expect(seq.at(-1)).toBe('job.completed');
      expect(seq.slice(2, -1).every((t) => t === 'job.progress')).toBe(true);
      expect(seq.length).toBeGreaterThanOrEqual(4);
      const percents = events
        .filter((e) => e.type === 'job.progress')
        .map((e) => e.data.percent as number);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      // The worker throttles progress reports, so not every step is an event; they never go back.
      expect(percents.length).toBeGreaterThanOrEqual(1);
      // The stream ids a client resumes from are strictly increasing.
      const ids = events.map(
        (e) => (e.event_id as string).split('-').map(Number) as [number, number],
      );
      for (let i = 1; i < ids.length; i++) {
        const [ms, seq] = ids[i]!;
        const [prevMs, prevSeq] = ids[i - 1]!;
        expect(ms > prevMs || (ms === prevMs && seq > prevSeq)).toBe(true);
      }

      const listed = await stack.http(
        'GET',
        '/api/jobs?status=completed&workflow_id=wf-happy',
        key,
      );
      expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
      const workflow = await stack.http('GET', '/api/workflows/wf-happy', key);
      expect(workflow.body.workflow).toMatchObject({
        id: 'wf-happy',
        status_counts: { completed: 1 },
        attestations: [],
      });
    } finally {
      ws.close();
    }
  });

  it('fails a permanent error at once, with a classified attestation', async () => {
    const ws = await watch(stack.wsUrl, key);
    try {
      const { body } = await stack.http('POST', '/api/jobs', key, {
        service_required: 'simulation',
        workflow_id: 'wf-permanent',
        max_attempts: 3,
        payload: {
          fail: {
            message: 'Incorrect API key provided: sk-live-abcdef1234567890',
            http_status: 401,
          },
        },
      });
      const id = body.job.id as string;
      const failed = await stack.waitForJob(key, id, (job) => job.status === 'failed');
      expect(failed.attempts).toBe(1);
      expect(failed.last_failure).toMatchObject({ failure_type: 'auth_error', retryable: false });
      await ws.waitForEvent((e) => e.job_id === id && e.type === 'job.failed');
      expect(types(ws.events(id))).toEqual(['job.received', 'job.claimed', 'job.failed']);

      const { body: read } = await stack.http('GET', `/api/jobs/${id}`, key);
      expect(read.attestations).toHaveLength(1);
      expect(read.attestations[0]).toMatchObject({
        job_id: id,
        failure_type: 'auth_error',
        decision: 'fail',
        attempt: 1,
      });
      // Secrets never leave the worker in an attestation.
      expect(JSON.stringify(read.attestations)).not.toContain('sk-live-abcdef1234567890');
      const { body: wf } = await stack.http('GET', '/api/workflows/wf-permanent', key);
      expect(wf.workflow.attestations).toHaveLength(1);
    } finally {
      ws.close();
    }
  });

  it('retries a transient error and completes on the next attempt', async () => {
    const ws = await watch(stack.wsUrl, key);
    try {
      const { body } = await stack.http('POST', '/api/jobs', key, {
        service_required: 'simulation',
        workflow_id: 'wf-transient',
        payload: {
          steps: 1,
          fail: { message: 'Rate limit reached for requests', http_status: 429, on_attempts: [1] },
        },
      });
      const id = body.job.id as string;
      const done = await stack.waitForJob(key, id, (job) => job.status === 'completed');
      expect(done.attempts).toBe(2);
      await ws.waitForEvent((e) => e.job_id === id && e.type === 'job.completed');
      const seq = types(ws.events(id)).filter((t) => t !== 'job.progress');
      expect(seq).toEqual([
        'job.received',
        'job.claimed',
        'job.retry_scheduled',
        'job.claimed',
        'job.completed',
      ]);
      const { body: read } = await stack.http('GET', `/api/jobs/${id}`, key);
      expect(read.attestations).toHaveLength(1);
      expect(read.attestations[0]).toMatchObject({
        failure_type: 'rate_limit',
        decision: 'retry',
        retryable: true,
        attempt: 1,
      });
    } finally {
      ws.close();
    }
  });

  it('keeps two customers apart over HTTP and WebSocket', async () => {
    const globex = await stack.customer('globex');
    const acmeWs = await watch(stack.wsUrl, key);
    const globexWs = await watch(stack.wsUrl, globex);
    try {
      const a = (
        await stack.http('POST', '/api/jobs', key, {
          service_required: 'simulation',
          payload: { steps: 1 },
        })
      ).body.job.id as string;
      const g = (
        await stack.http('POST', '/api/jobs', globex, {
          service_required: 'simulation',
          payload: { steps: 1 },
        })
      ).body.job.id as string;
      await stack.waitForJob(key, a, (job) => job.status === 'completed');
      await stack.waitForJob(globex, g, (job) => job.status === 'completed');
      await acmeWs.waitForEvent((e) => e.job_id === a && e.type === 'job.completed');
      await globexWs.waitForEvent((e) => e.job_id === g && e.type === 'job.completed');
      expect(acmeWs.events().every((e) => e.customer_id === 'acme')).toBe(true);
      expect(globexWs.events().every((e) => e.customer_id === 'globex')).toBe(true);
      expect(globexWs.events(a)).toEqual([]);
      expect((await stack.http('GET', `/api/jobs/${a}`, globex)).status).toBe(404);
      expect((await stack.http('DELETE', `/api/jobs/${g}`, key)).status).toBe(404);
      const listed = await stack.http('GET', '/api/jobs?limit=200', globex);
      expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([g]);
    } finally {
      acmeWs.close();
      globexWs.close();
    }
  });
});
